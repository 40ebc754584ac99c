// `ssl-bench decode`: images per second through `ImageFolder.load` (read, decode, resize
// 500×375 → 96×96, centre crop, into the byte store) on every core, for JPEG and PNG files
// written here first; then loader epochs over the same files held in memory and streamed.
// `ssl-bench decode FOLDER [SIZE [CHANNELS]]` measures the load and the epochs on your folder.
import Foundation
import SSLData
import SSLTensor

/// A 500 × 375 RGB picture that compresses like a photo: smooth gradients, a few shapes,
/// texture and sensor-like noise.
func photoLikePicture(width: Int, height: Int, seed: UInt64) -> [UInt8] {
    var generator = RandomGenerator(seed: seed)
    let phase = Double(generator.nextInt(below: 628)) / 100
    let centreX = Double(generator.nextInt(below: width)), centreY = Double(generator.nextInt(below: height))
    let radius = Double(40 + generator.nextInt(below: 80))
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let u = Double(x) / Double(width), v = Double(y) / Double(height)
            let dx = Double(x) - centreX, dy = Double(y) - centreY
            let inside = dx * dx + dy * dy < radius * radius
            let texture = 12 * sin(Double(x) * 0.31 + phase) * cos(Double(y) * 0.17)
            let noise = Double(generator.nextInt(below: 7)) - 3
            let red = inside ? 210 + texture : 120 + 90 * sin(5 * u + phase) * cos(2 * v)
            let green = inside ? 90 + texture : 60 + 150 * u * (1 - v) + texture
            let blue = 40 + 170 * v + 0.5 * texture
            let index = (y * width + x) * 3
            pixels[index] = UInt8(clamping: Int(red + noise))
            pixels[index + 1] = UInt8(clamping: Int(green + noise))
            pixels[index + 2] = UInt8(clamping: Int(blue + noise))
        }
    }
    return pixels
}

/// Prints `decode jpeg <images/s>` and `decode png <images/s>`: 200 files of each, the best of
/// several whole-folder loads at 96 × 96 RGB; and `epoch <format> memory|stream <images/s>`.
func benchmarkDecode() throws {
    let arguments = Array(CommandLine.arguments.dropFirst(2))
    if let folder = arguments.first {
        let size = arguments.count > 1 ? Int(arguments[1]) ?? 96 : 96, channels = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3
        return try benchmarkEpochs(folder: folder, label: (folder as NSString).lastPathComponent, size: size, channels: channels)
    }
    let width = 500, height = 375, count = 200
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-bench-decode-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    var sizes: [String: Int] = [:]
    for format in ["jpeg", "png"] {
        let folder = "\(root)/\(format)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var total = 0
        for index in 0..<count {
            let pixels = photoLikePicture(width: width, height: height, seed: UInt64(index))
            let bytes = format == "jpeg"
                ? try ImageEncoder.jpeg(pixels: pixels, width: width, height: height, components: 3, quality: 90)
                : try ImageEncoder.png(rows: pixels, width: width, height: height, color: .rgb)
            total += bytes.count
            try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(index).\(format == "jpeg" ? "jpg" : "png")"))
        }
        sizes[format] = total / count
    }
    let threads = ComputeContext.current.threadCount
    print("decode: \(count) files of \(width)×\(height) RGB per format (JPEG quality 90 ≈ \(sizes["jpeg", default: 0] / 1000) kB, "
          + "PNG level 6 ≈ \(sizes["png", default: 0] / 1000) kB) → 3×96×96, \(threads) threads, \(ImageDecoder.libraryVersions)")
    for format in ["jpeg", "png"] {
        // Where one thread's CPU time goes, per image (CPU time, so other load on the machine
        // does not count): the library decode (DCT-scaled for JPEG) and the resize.
        let folderPath = "\(root)/\(format)"
        let names = try FileManager.default.contentsOfDirectory(atPath: folderPath).sorted().prefix(50)
        let files = try names.map { try DatasetFile.readRaw("\(folderPath)/\($0)") }
        var decoded: [DecodedImage] = []
        let decodeCPU = threadCPUSeconds {
            decoded = files.compactMap { try? ImageDecoder.decode($0, channels: 3, minimumSide: 96) }
        }
        var bytes = 0
        let resizeCPU = threadCPUSeconds {
            for picture in decoded { bytes &+= picture.resizedCenterCrop(size: 96).count }
        }
        let perImage = Double(files.count)
        print("decode \(format): one thread, per image: \(format3(decodeCPU / perImage * 1000)) ms decoding "
              + "(\(decoded.first.map { "\($0.width)×\($0.height)" } ?? "?") out), \(format3(resizeCPU / perImage * 1000)) ms resizing (CPU time)")
        var checksum = 0
        let seconds = bestSeconds(minimumSeconds: 2, minimumRuns: 5, warmup: 1) {
            do {
                let folder = try ImageFolder.load(directory: "\(root)/\(format)", imageSize: 96, channels: 3)
                checksum &+= Int(folder.dataset.pixels[12_345])
            } catch {
                print("decode \(format): \(error)")
            }
        }
        if checksum < 0 { print("decode: impossible checksum") }
        print("decode \(format) \(Int((Double(count) / seconds).rounded()))")
    }
    for format in ["jpeg", "png"] { try benchmarkEpochs(folder: "\(root)/\(format)", label: format, size: 96, channels: 3) }
}

/// Prints `epoch <label> memory <images/s>` and `epoch <label> stream <images/s>`: whole loader
/// epochs (two views of a random resized crop and flip, batches of 50, a worker per core) over
/// the folder decoded into memory, and streamed (each file decoded by the workers when read),
/// with the time the in-memory load and the streaming load (its header checks) take.
func benchmarkEpochs(folder: String, label: String, size: Int, channels: Int) throws {
    let clock = ContinuousClock()
    var started = clock.now
    let memory = try ImageFolder.load(directory: folder, imageSize: size, channels: channels, storage: .inMemory)
    let decodeSeconds = seconds(clock.now - started)
    started = clock.now
    let streamed = try ImageFolder.load(directory: folder, imageSize: size, channels: channels, storage: .streaming)
    let headerSeconds = seconds(clock.now - started)
    let workers = ComputeContext.current.threadCount
    print("epoch \(label): \(memory.count) images → \(channels)×\(size)×\(size); loading: \(format3(decodeSeconds)) s decoding "
          + "into memory, \(format3(headerSeconds)) s reading the headers to stream; epochs of 2 views, batches of 50, \(workers) workers")
    let augment = Compose([RandomResizedCrop(size: size, scale: 0.3...1), RandomHorizontalFlip(p: 0.5)])
    for (name, images) in [("memory", memory.images), ("stream", streamed.images)] {
        let loader = DataLoader(images, batchSize: Swift.min(50, images.count), views: MultiViewTransform(augment, count: 2),
                                seed: 0, workers: workers)
        var failure: Error?
        var epoch = 0
        let epochSeconds = bestSeconds(minimumSeconds: 2, minimumRuns: 3, warmup: 1) {
            do {
                let iterator = loader.throwingBatches(epoch: epoch, startingAt: 0)
                while try iterator.next() != nil {}
            } catch {
                failure = error
            }
            epoch += 1
        }
        if let failure { throw failure }
        let imagesPerEpoch = loader.batchesPerEpoch * loader.batchSize
        print("epoch \(label) \(name) \(Int((Double(imagesPerEpoch) / epochSeconds).rounded()))")
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// The CPU time the calling thread spends in `body`, in seconds.
func threadCPUSeconds(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
}

func format3(_ value: Double) -> String {
    String((value * 1000).rounded() / 1000)
}
