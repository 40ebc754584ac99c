// swift-tools-version: 6.1
//
// SelfSupervised: a dependency-free Swift framework for self-supervised learning.
//
// Layers, in dependency order (imports only point down):
//   CSSLKernels   C micro-kernels (AVX-512 / AVX2+FMA / portable), chosen at run time.
//   CZlib         The system zlib (Debian's zlib1g-dev), for gzip-compressed datasets.
//   CPNG, CJPEG   The system libpng and libjpeg-turbo (Debian's libpng-dev, libjpeg62-turbo-dev).
//   CImageCodec   The C calls into them, with the setjmp error handling Swift cannot do.
//   SSLTensor     Float32 tensors, reverse-mode autograd, CPU kernels; Batch, BatchSource, foldViews.
//   SSLNN         Modules, layers, backbones, state dicts and safetensors.
//   SSLOptim      Optimizers, learning-rate schedules, gradient clipping.
//   CMPI          Open MPI's mpi.h (Debian's libopenmpi-dev), only with the `MPI` trait.
//   SSLDistributed  Communicator (rank, world size, collectives) with single-process, in-process
//                 thread-group and, with `--traits MPI`, Open MPI implementations; differentiable
//                 collectives, SyncBatchNorm, bucketed gradient all-reduce (SSLTensor, SSLNN).
//                 Its own layer so the trainer, losses and recipes share one Communicator type
//                 while SSLTensor/SSLNN stay free of communication.
//   SSLData       Datasets, readers, image folders, the parallel loader and multi-view augmentations
//                 (SSLTensor, CZlib, CImageCodec).
//   SSLTraining   Stage, SSLModule, Trainer (single process or data parallel), callbacks, metrics,
//                 loggers, checkpoints.
//   SSLMethods    SSL losses, TeacherStudentModule + EMA callback, online probes, evaluation.
//   SSLRecipes    Shared option parsing, data set-up and evaluation of the recipe executables.
//   SelfSupervised  the umbrella library users import.
// No `unsafeFlags`: the package must stay usable as a versioned dependency.
//
// Traits: `MPI` (off by default) links Open MPI for data-parallel training across processes and
// machines (`swift build -c release --traits MPI`, then `mpirun -np 2 .build/release/simclr`).
// A trait, not loading libmpi at run time, because mpi.h's types and handles are checked by the
// compiler and a build without the trait needs no MPI on the machine at all.
import PackageDescription

let package = Package(
    name: "SelfSupervised",
    products: [
        .library(name: "SelfSupervised", targets: ["SelfSupervised"]),
        .executable(name: "ssl-bench", targets: ["SSLBench"]),
        .executable(name: "simclr", targets: ["simclr"]),
        .executable(name: "byol", targets: ["byol"]),
        .executable(name: "ssl-embed", targets: ["SSLEmbed"]),
        .executable(name: "vicreg", targets: ["vicreg"]),
        .executable(name: "barlowtwins", targets: ["barlowtwins"]),
        .executable(name: "mocov3", targets: ["mocov3"]),
        .executable(name: "dino", targets: ["dino"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Data-parallel training on Open MPI (needs libopenmpi-dev)."),
    ],
    targets: [
        .target(
            name: "CSSLKernels",
            path: "Sources/CSSLKernels"
        ),
        .target(
            name: "SSLTensor",
            dependencies: ["CSSLKernels"],
            path: "Sources/SSLTensor"
        ),
        .target(
            name: "SSLNN",
            dependencies: ["SSLTensor"],
            path: "Sources/SSLNN"
        ),
        .target(
            name: "SSLOptim",
            dependencies: ["SSLTensor"],
            path: "Sources/SSLOptim"
        ),
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        .target(
            name: "SSLDistributed",
            dependencies: ["SSLTensor", "SSLNN", .target(name: "CMPI", condition: .when(traits: ["MPI"]))],
            path: "Sources/SSLDistributed"
        ),
        .target(
            name: "SSLTraining",
            dependencies: ["SSLTensor", "SSLNN", "SSLOptim", "SSLDistributed"],
            path: "Sources/SSLTraining"
        ),
        .target(
            name: "SSLMethods",
            dependencies: ["SSLTensor", "SSLNN", "SSLOptim", "SSLDistributed", "SSLTraining"],
            path: "Sources/SSLMethods"
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CPNG",
            path: "Sources/CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        .systemLibrary(
            name: "CJPEG",
            path: "Sources/CJPEG",
            pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"])]
        ),
        .target(
            name: "CImageCodec",
            dependencies: ["CPNG", "CJPEG"],
            path: "Sources/CImageCodec"
        ),
        .target(
            name: "SSLData",
            dependencies: ["SSLTensor", "CZlib", "CImageCodec"],
            path: "Sources/SSLData"
        ),
        .target(
            name: "SelfSupervised",
            dependencies: ["SSLTensor", "SSLNN", "SSLOptim", "SSLDistributed", "SSLTraining", "SSLMethods", "SSLData"],
            path: "Sources/SelfSupervised"
        ),
        .target(
            name: "SSLTestSupport",
            dependencies: ["SSLTensor"],
            path: "Sources/SSLTestSupport"
        ),
        .target(
            name: "SSLRecipes",
            dependencies: ["SSLTensor", "SSLNN", "SSLOptim", "SSLDistributed", "SSLTraining", "SSLMethods", "SSLData"],
            path: "Sources/SSLRecipes"
        ),
        .executableTarget(
            name: "simclr",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/SimCLR"
        ),
        .executableTarget(
            name: "byol",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/BYOL"
        ),
        .executableTarget(
            name: "vicreg",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/VICReg"
        ),
        .executableTarget(
            name: "barlowtwins",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/BarlowTwins"
        ),
        .executableTarget(
            name: "mocov3",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/MoCoV3"
        ),
        .executableTarget(
            name: "dino",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/DINO"
        ),
        .executableTarget(
            name: "SSLEmbed",
            dependencies: ["SelfSupervised", "SSLRecipes"],
            path: "Recipes/Embed"
        ),
        .executableTarget(
            name: "SSLBench",
            dependencies: ["SSLTensor", "SSLNN", "SSLOptim", "SSLDistributed", "SSLTraining", "SSLMethods", "SSLData"],
            path: "Benchmarks/SSLBench"
        ),
        .testTarget(
            name: "SSLTensorTests",
            dependencies: ["SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLTensorTests",
            exclude: ["Reference"]
        ),
        .testTarget(
            name: "SSLOptimTests",
            dependencies: ["SSLOptim", "SSLNN", "SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLOptimTests",
            exclude: ["Reference"]
        ),
        .testTarget(
            name: "SSLDataTests",
            dependencies: ["SSLData", "SSLTraining", "SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLDataTests"
        ),
        .testTarget(
            name: "SSLMethodsTests",
            dependencies: ["SSLMethods", "SSLTraining", "SSLNN", "SSLOptim", "SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLMethodsTests",
            exclude: ["Reference"]
        ),
        .testTarget(
            name: "SSLTrainingTests",
            dependencies: ["SSLTraining", "SSLNN", "SSLOptim", "SSLTensor", "SSLTestSupport", "CheckpointStressWriter"],
            path: "Tests/SSLTrainingTests"
        ),
        .testTarget(
            name: "RecipeSmokeTests",
            dependencies: ["simclr", "byol", "vicreg", "barlowtwins", "mocov3", "dino", "SSLEmbed", "SelfSupervised", "SSLRecipes"],
            path: "Tests/RecipeSmokeTests"
        ),
        // Spawned by the checkpoint kill test (SIGKILL while writing).
        .executableTarget(
            name: "CheckpointStressWriter",
            dependencies: ["SSLTraining", "SSLNN", "SSLTensor"],
            path: "Tests/CheckpointStressWriter"
        ),
        // Also run under `mpirun` (built with --traits MPI): the MPI* tests skip unless launched by it.
        .testTarget(
            name: "SSLDistributedTests",
            dependencies: ["SSLDistributed", "SSLTraining", "SSLMethods", "SSLData", "SSLNN", "SSLOptim", "SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLDistributedTests"
        ),
        .testTarget(
            name: "SSLNNTests",
            dependencies: ["SSLNN", "SSLTensor", "SSLTestSupport"],
            path: "Tests/SSLNNTests",
            exclude: ["Reference", "Fixtures"]
        ),
    ]
)
