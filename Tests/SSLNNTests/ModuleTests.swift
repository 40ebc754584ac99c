import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// Module mechanics: names, traversal, modes, freezing, copies, builders, summary.
final class ModuleTests: XCTestCase {
    func testConvNetNamesParametersAndBuffersPyTorchStyle() {
        let net = ConvNet(channels: [4, 8], inputChannels: 1)
        let parameterNames = net.namedParameters().map(\.name)
        XCTAssertEqual(parameterNames, [
            "stages.0.conv1.weight", "stages.0.bn1.weight", "stages.0.bn1.bias",
            "stages.0.conv2.weight", "stages.0.bn2.weight", "stages.0.bn2.bias",
            "stages.1.conv1.weight", "stages.1.bn1.weight", "stages.1.bn1.bias",
            "stages.1.conv2.weight", "stages.1.bn2.weight", "stages.1.bn2.bias",
        ])
        let bufferNames = net.namedBuffers().map(\.name)
        XCTAssertTrue(bufferNames.contains("stages.0.bn1.running_mean"))
        XCTAssertTrue(bufferNames.contains("stages.1.bn2.num_batches_tracked"))
        XCTAssertEqual(net.namedBuffers().first { $0.name.hasSuffix("num_batches_tracked") }?.isInteger, true)
        XCTAssertEqual(net.outputFeatures, 8)
        XCTAssertEqual(net(Tensor.zeros([2, 1, 8, 8])).shape, [2, 8])
    }

    func testResNet18HasPyTorchsParameterCountAndStateDictKeys() {
        let net = ResNet18(inputChannels: 1)
        XCTAssertEqual(net.parameterCount, NNReference.resNet18LowResParameterCount)   // 11,167,680
        XCTAssertEqual(net.parameterCount, 11_167_680)
        XCTAssertEqual(net.stateDict().keys, NNReference.resNet18StateDictKeys)
        XCTAssertEqual(ResNet18(inputChannels: 3).parameterCount, NNReference.resNet18LowResThreeChannelParameterCount)
        XCTAssertEqual(net.outputFeatures, 512)
        let small = ResNet18(inputChannels: 1, widthMultiplier: 1)
        XCTAssertEqual(noGrad { small(testTensor([2, 1, 8, 8], seed: 4)) }.shape, [2, 512])
    }

    func testMLPBuildersHaveTheDocumentedLayers() {
        let projector = MLP([128, 512, 64], batchNorm: true)
        XCTAssertEqual(projector.layers.map { String(describing: type(of: $0)) }, ["Linear", "BatchNorm1d", "ReLU", "Linear"])
        XCTAssertEqual(projector.namedParameters().map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"])
        XCTAssertEqual(projector(Tensor.zeros([4, 128])).shape, [4, 64])
        let backbone = MLPBackbone(inputSize: 784, hiddenSizes: [32, 16])
        XCTAssertEqual(backbone.layers.map { String(describing: type(of: $0)) },
                       ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"])
        XCTAssertEqual(backbone(Tensor.zeros([3, 1, 28, 28])).shape, [3, 16])
        XCTAssertEqual(backbone.outputFeatures, 16)
    }

    func testTrainEvalRecurseAndFreezeStopsGradients() {
        let net = MLP([4, 8, 2], batchNorm: true)
        net.eval()
        XCTAssertTrue(net.namedModules().allSatisfy { !$0.module.isTraining })
        net.train()
        XCTAssertTrue(net.namedModules().allSatisfy { $0.module.isTraining })
        net.freeze()
        XCTAssertEqual(net.trainableParameterCount, 0)
        let y = net(testTensor([3, 4], seed: 1))
        XCTAssertFalse(y.requiresGrad)
        net.unfreeze()
        XCTAssertEqual(net.trainableParameterCount, net.parameterCount)
    }

    func testChildrenAreFoundInOptionalsArraysAndDictionariesAndSharedOnesCountOnce() {
        final class Holder: Module {
            let shared = Linear(2, 2)
            let maybe: Linear? = Linear(2, 3)
            let absent: Linear? = nil
            let list = [Linear(3, 3), Linear(3, 1)]
            let table = ["b": Linear(1, 1), "a": Linear(1, 2)]
            lazy var alias: Linear = shared
            override func makeCopy() -> Module { Holder() }
        }
        let holder = Holder()
        _ = holder.alias
        let names = holder.namedModules().map(\.name)
        XCTAssertEqual(names, ["", "shared", "maybe", "list.0", "list.1", "table.a", "table.b"])
        XCTAssertEqual(holder.namedParameters().count, 12)
    }

    func testDeepCopyIsIndependentWithEqualWeightsBuffersAndModes() {
        let original = ConvNet(channels: [4], inputChannels: 1)
        _ = original(testTensor([2, 1, 4, 4], seed: 3))          // moves running statistics
        original.stages[0].conv1.weight.setRequiresGrad(false)
        original.stages[0].bn1.eval()
        let clone = original.copy()
        XCTAssertFalse(clone === original)
        for ((name, a), (_, b)) in zip(original.stateDict().entries.map { ($0.name, $0.tensor) },
                                       clone.stateDict().entries.map { ($0.name, $0.tensor) }) {
            XCTAssertEqual(a.scalars, b.scalars, name)
            XCTAssertFalse(a.storage === b.storage, "\(name) must not share storage")
        }
        XCTAssertEqual(clone.stages[0].bn1.batchesTracked!.item(), 1)
        XCTAssertFalse(clone.stages[0].conv1.weight.requiresGrad)
        XCTAssertFalse(clone.stages[0].bn1.isTraining)
        XCTAssertTrue(clone.stages[0].bn2.isTraining)
        clone.stages[0].conv2.weight.copyIn(Tensor.zeros(clone.stages[0].conv2.weight.shape))
        XCTAssertNotEqual(original.stages[0].conv2.weight.abs().sum().item(), 0)
    }

    func testSeededInitialisationIsReproducible() {
        let a = ParameterInitialization.withSeed(7) { MLP([5, 6, 2]) }
        let b = ParameterInitialization.withSeed(7) { MLP([5, 6, 2]) }
        let c = ParameterInitialization.withSeed(8) { MLP([5, 6, 2]) }
        XCTAssertEqual(a.parameters().map(\.scalars), b.parameters().map(\.scalars))
        XCTAssertNotEqual(a.parameters().map(\.scalars), c.parameters().map(\.scalars))
        // Two layers of one shape in one scope differ.
        let pair = ParameterInitialization.withSeed(7) { (Linear(3, 3), Linear(3, 3)) }
        XCTAssertNotEqual(pair.0.weight.scalars, pair.1.weight.scalars)
    }

    func testSummaryListsModulesParameterCountsAndOutputShapes() {
        let net = ConvNet(channels: [4, 8], inputChannels: 1)
        let summary = ModuleSummary(net, inputShape: [2, 1, 8, 8])
        let text = summary.description
        XCTAssertTrue(text.contains("stages.0.conv1"), text)
        XCTAssertTrue(text.contains("Conv2d"), text)
        XCTAssertTrue(text.contains("[2, 8, 4, 4]"), text)     // stage 1 output
        XCTAssertTrue(text.contains("[2, 8]"), text)           // the model output
        XCTAssertEqual(summary.totalParameters, net.parameterCount)
        XCTAssertTrue(text.contains("\(ModuleSummaryCount.format(net.parameterCount)) total params"), text)
        XCTAssertTrue(net.isTraining, "the summary restores the training mode")
    }

    func testDropoutLayerFollowsTheMode() {
        let dropout = Dropout(probability: 0.5)
        let x = Tensor.ones([1000])
        XCTAssertTrue(dropout(x).scalars.contains(0))
        dropout.eval()
        XCTAssertEqual(dropout(x).scalars, x.scalars)
    }

    func testPoolingLayersKeepTheirWindowInCopiesAndRunTheirTensorOps() {
        let x = testTensor([2, 3, 6, 6], seed: 5)
        let maxPool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1), averagePool = AvgPool2d(kernelSize: 2)
        XCTAssertEqual([maxPool.kernelSize, maxPool.stride, maxPool.padding], [3, 2, 1])
        XCTAssertEqual([averagePool.kernelSize, averagePool.stride, averagePool.padding], [2, 2, 0],
                       "the stride defaults to the window")
        XCTAssertEqual(maxPool(x).scalars, x.maxPool2d(kernelSize: 3, stride: 2, padding: 1).scalars)
        XCTAssertEqual(averagePool(x).scalars, x.avgPool2d(kernelSize: 2).scalars)
        let maxCopy = maxPool.copy(), averageCopy = averagePool.copy()
        XCTAssertFalse(maxCopy === maxPool)
        XCTAssertEqual([maxCopy.kernelSize, maxCopy.stride, maxCopy.padding], [3, 2, 1])
        XCTAssertEqual(maxCopy(x).scalars, maxPool(x).scalars)
        XCTAssertEqual(averageCopy(x).scalars, averagePool(x).scalars)
    }
}

/// Lightning-style parameter counts, as the summary prints them.
enum ModuleSummaryCount {
    static func format(_ count: Int) -> String {
        count < 1000 ? String(count) : count < 1_000_000 ? "\((Double(count) / 100).rounded() / 10) K" : "\((Double(count) / 1e5).rounded() / 10) M"
    }
}

/// The module tree is read by reflection once and kept.
final class ModuleTreeCacheTests: XCTestCase {
    final class Lazy: Module {
        lazy var head = Linear(2, 2)
    }

    func testChildrenAreReadOnceAndRegisteringOrALazyChildStillShows() {
        let mlp = MLP([3, 4, 2])
        let first = mlp.namedParameters().map(\.name)
        XCTAssertEqual(mlp.namedParameters().map(\.name), first)
        mlp.registerModule("extra", Linear(2, 1))
        XCTAssertEqual(mlp.namedParameters().map(\.name), first + ["extra.weight", "extra.bias"], "registering refreshes the tree")

        let lazy = Lazy()
        XCTAssertEqual(lazy.namedParameters().count, 0, "not yet created")
        _ = lazy.head
        XCTAssertEqual(lazy.namedParameters().map(\.name), ["head.weight", "head.bias"], "a lazy child shows once created")
    }
}

/// ResNet-18's torchvision stem for images of 64 px and up.
final class ResNet18StemTests: XCTestCase {
    func testTheImageNetStemHasTorchvisionsParameterCountAndShrinksFourfold() {
        let net = ResNet18(inputChannels: 3, stem: .imageNet)
        // torchvision.models.resnet18() has 11 689 512 parameters; without its 512→1000 fc layer, 11 176 512.
        XCTAssertEqual(net.parameterCount, 11_689_512 - 513_000)
        XCTAssertEqual(net.conv1.kernelSize, 7)
        XCTAssertEqual(net.parameterCount - ResNet18(inputChannels: 3).parameterCount, 64 * 3 * (49 - 9))
        let output = noGrad { ResNet18(inputChannels: 1, widthMultiplier: 1, stem: .imageNet)(Tensor.zeros([2, 1, 64, 64])) }
        XCTAssertEqual(output.shape, [2, 512])
        XCTAssertEqual(ResNet18.Stem.forImages(side: 63), .lowResolution)
        XCTAssertEqual(ResNet18.Stem.forImages(side: 64), .imageNet)
        XCTAssertEqual((net.makeCopy() as? ResNet18)?.stem, .imageNet)
    }
}
