import SSLTensor

/// Averages gradients over the ranks in buckets of about `bucketBytes` (25 MB, as PyTorch
/// DDP), each bucket's all-reduce started as soon as backward has completed every gradient in
/// it, so communication overlaps the rest of backward.
///
/// Parameters are bucketed in reverse order (backward reaches the last layers first).
/// Use: pass `gradientReady` to `backward(onLeafGradientReady:)`, then call `finish()` before
/// the optimizer step; or, without overlap, call only `finish()` after backward (every bucket
/// is then reduced after backward). Gradients end as the mean over ranks; a parameter whose
/// gradient is nil on this rank gets the mean of the others' (nil when all were nil or zero).
///
/// ```swift
/// let synchronizer = GradientSynchronizer(parameters: model.parameters(), communicator: communicator)
/// loss.backward(onLeafGradientReady: synchronizer.gradientReady)
/// synchronizer.finish()
/// optimizer.step()
/// ```
public final class GradientSynchronizer {
    public let communicator: any Communicator
    public let bucketBytes: Int
    /// The buckets' parameter indices (into `parameters`), in the order they are built.
    public let buckets: [[Int]]
    /// Buckets whose all-reduce started during backward, in the last `finish()`.
    public private(set) var bucketsStartedDuringBackward = 0
    private let parameters: [Tensor]
    private let location: [ObjectIdentifier: (bucket: Int, offset: Int)]
    private var buffers: [UnsafeMutableBufferPointer<Float>]
    private var readyCounts: [Int]
    private var requests: [CommunicationRequest?]
    private var hadGradient: [Bool]

    public init(parameters: [Tensor], communicator: any Communicator, bucketBytes: Int = 25 << 20) {
        precondition(bucketBytes > 0, "GradientSynchronizer: bucketBytes must be positive, got \(bucketBytes)")
        self.communicator = communicator
        self.bucketBytes = bucketBytes
        var unique: [Tensor] = []
        var seen = Set<ObjectIdentifier>()
        for parameter in parameters where seen.insert(ObjectIdentifier(parameter)).inserted { unique.append(parameter) }
        self.parameters = unique
        var buckets: [[Int]] = []
        var current: [Int] = [], currentBytes = 0
        var location: [ObjectIdentifier: (Int, Int)] = [:]
        var sizes: [Int] = []
        for index in unique.indices.reversed() {
            let bytes = unique[index].count * MemoryLayout<Float>.size
            if !current.isEmpty && currentBytes + bytes > bucketBytes {
                buckets.append(current); sizes.append(currentBytes / MemoryLayout<Float>.size)
                current = []; currentBytes = 0
            }
            location[ObjectIdentifier(unique[index])] = (buckets.count, currentBytes / MemoryLayout<Float>.size)
            current.append(index)
            currentBytes += bytes
        }
        if !current.isEmpty { buckets.append(current); sizes.append(currentBytes / MemoryLayout<Float>.size) }
        self.buckets = buckets
        self.location = location
        buffers = sizes.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
        readyCounts = Array(repeating: 0, count: buckets.count)
        requests = Array(repeating: nil, count: buckets.count)
        hadGradient = Array(repeating: false, count: unique.count)
    }

    deinit {
        for request in requests { request?.wait() }
        for buffer in buffers { buffer.deallocate() }
    }

    /// Marks a parameter's gradient complete; starts its bucket's all-reduce when it is the
    /// bucket's last. Other tensors are ignored.
    public func gradientReady(_ tensor: Tensor) {
        guard communicator.worldSize > 1, let (bucket, _) = location[ObjectIdentifier(tensor)], requests[bucket] == nil else { return }
        readyCounts[bucket] += 1
        if readyCounts[bucket] == buckets[bucket].count {
            start(bucket)
            bucketsStartedDuringBackward += 1
        }
    }

    /// Starts the buckets not yet started (in bucket order), waits for all, and writes the
    /// averaged gradients back; then resets for the next step.
    public func finish() {
        guard communicator.worldSize > 1 else { return }
        for bucket in buckets.indices where requests[bucket] == nil { start(bucket) }
        let scale = 1 / Float(communicator.worldSize)
        for bucket in buckets.indices {
            requests[bucket]?.wait()
            let buffer = buffers[bucket]
            var offset = 0
            for index in buckets[bucket] {
                let parameter = parameters[index]
                let count = parameter.count
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[offset ..< offset + count])
                offset += count
                if !hadGradient[index] {
                    guard slice.contains(where: { $0 != 0 }) else { continue }
                    parameter.grad = noGrad { Tensor.zeros(parameter.shape) }
                }
                guard let gradient = parameter.grad else { continue }
                gradient.withUnsafeMutableElements { target in
                    for position in 0..<count { target[position] = slice[position] * scale }
                }
            }
        }
        readyCounts = Array(repeating: 0, count: buckets.count)
        requests = Array(repeating: nil, count: buckets.count)
    }

    /// Resets the count of overlapped buckets (call before backward to measure a step).
    public func resetStatistics() { bucketsStartedDuringBackward = 0 }

    private func start(_ bucket: Int) {
        let buffer = buffers[bucket]
        var offset = 0
        for index in buckets[bucket] {
            let parameter = parameters[index]
            let count = parameter.count
            let target = UnsafeMutableBufferPointer(rebasing: buffer[offset ..< offset + count])
            offset += count
            hadGradient[index] = parameter.grad != nil
            if let gradient = parameter.grad {
                gradient.withContiguousBuffer { source in _ = target.update(fromContentsOf: source) }
            } else {
                target.update(repeating: 0)
            }
        }
        requests[bucket] = communicator.startAllReduce(buffer, .sum)
    }
}
