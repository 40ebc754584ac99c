// Elementwise kernels: map, zip (with broadcasting) and strided copy, over the runs of a
// `StridedLayout`. Closures are inlined into each call site (`@inline(__always)`), so every op
// gets its own specialised loop; contiguous runs are plain pointer loops the compiler
// vectorises.

extension Tensor {
    /// out[i] = transform(self[i]) into a new contiguous tensor.
    @inline(__always)
    func mapElements(_ transform: @escaping @Sendable (Float) -> Float) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let layout = StridedLayout(shape: shape, a: strides, b: result.strides, c: result.strides)
        let source = SendablePointer(storage.pointer + offset)
        let destination = SendablePointer(result.storage.pointer)
        let (innerSource, innerDestination, _) = layout.innerStrides
        layout.forEachRun(threads: ComputeContext.current.threadCount) { offsetSource, offsetDestination, _, length in
            let input = source.base + offsetSource
            let output = destination.base + offsetDestination
            if innerSource == 1 && innerDestination == 1 {
                for i in 0..<length { output[i] = transform(input[i]) }
            } else {
                for i in 0..<length { output[i &* innerDestination] = transform(input[i &* innerSource]) }
            }
        }
        return result
    }

    /// out[i] = combine(a[i], b[i]) with broadcasting, into a new contiguous tensor.
    @inline(__always)
    static func zipElements(
        _ a: Tensor, _ b: Tensor, operation: String,
        _ combine: @escaping @Sendable (Float, Float) -> Float
    ) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape, operation: operation)
        let result = Tensor(uninitializedShape: shape)
        zipElements(a, b, into: result, operation: operation, combine)
        return result
    }

    /// result[i] = combine(a[i], b[i]) with broadcasting, into an existing tensor (which may
    /// alias `a` or `b` element for element).
    @inline(__always)
    static func zipElements(
        _ a: Tensor, _ b: Tensor, into result: Tensor, operation: String,
        _ combine: @escaping @Sendable (Float, Float) -> Float
    ) {
        let shape = result.shape
        let layout = StridedLayout(
            shape: shape,
            a: a.shape == shape ? a.strides : a.broadcastStrides(to: shape, operation: operation),
            b: b.shape == shape ? b.strides : b.broadcastStrides(to: shape, operation: operation),
            c: result.strides)
        let pa = SendablePointer(a.storage.pointer + a.offset)
        let pb = SendablePointer(b.storage.pointer + b.offset)
        let pc = SendablePointer(result.storage.pointer + result.offset)
        let (sa, sb, sc) = layout.innerStrides
        layout.forEachRun(threads: ComputeContext.current.threadCount) { oa, ob, oc, length in
            let x = pa.base + oa, y = pb.base + ob, z = pc.base + oc
            if sc == 1 && sa == 1 && sb == 1 {
                for i in 0..<length { z[i] = combine(x[i], y[i]) }
            } else if sc == 1 && sa == 1 && sb == 0 {
                let scalar = y[0]
                for i in 0..<length { z[i] = combine(x[i], scalar) }
            } else if sc == 1 && sa == 0 && sb == 1 {
                let scalar = x[0]
                for i in 0..<length { z[i] = combine(scalar, y[i]) }
            } else {
                for i in 0..<length { z[i &* sc] = combine(x[i &* sa], y[i &* sb]) }
            }
        }
    }

    /// out[i] = combine(a[i], b[i], c[i]) for three tensors of one shape (contiguous result).
    @inline(__always)
    static func zipElements(
        _ a: Tensor, _ b: Tensor, _ c: Tensor, operation: String,
        _ combine: @escaping @Sendable (Float, Float, Float) -> Float
    ) -> Tensor {
        precondition(a.shape == b.shape && b.shape == c.shape,
                     "\(operation): shapes \(a.shape), \(b.shape), \(c.shape) differ")
        let a = a.contiguous(), b = b.contiguous(), c = c.contiguous()
        let result = Tensor(uninitializedShape: a.shape)
        let pa = SendablePointer(a.dataPointer), pb = SendablePointer(b.dataPointer)
        let pc = SendablePointer(c.dataPointer), pr = SendablePointer(result.dataPointer)
        ParallelLoop.forEachChunk(count: a.count, minimumChunk: 1 << 14,
                                  threads: ComputeContext.current.threadCount) { range in
            for i in range { pr.base[i] = combine(pa.base[i], pb.base[i], pc.base[i]) }
        }
        return result
    }

    /// Copies `source` (broadcast to this tensor's shape) into this tensor's elements, which
    /// may be a strided view.
    func assign(from source: Tensor, operation: String = "assign") {
        let layout = StridedLayout(
            shape: shape,
            a: source.shape == shape ? source.strides : source.broadcastStrides(to: shape, operation: operation),
            b: strides, c: strides)
        let from = SendablePointer(source.storage.pointer + source.offset)
        let to = SendablePointer(storage.pointer + offset)
        let (sa, sb, _) = layout.innerStrides
        layout.forEachRun(threads: ComputeContext.current.threadCount) { oa, ob, _, length in
            let x = from.base + oa, y = to.base + ob
            if sa == 1 && sb == 1 {
                y.update(from: x, count: length)
            } else if sa == 0 {
                let value = x[0]
                for i in 0..<length { y[i &* sb] = value }
            } else {
                for i in 0..<length { y[i &* sb] = x[i &* sa] }
            }
        }
    }

    /// Fills every element (of a possibly strided view) with `value`.
    func fill(with value: Float) {
        if isContiguous {
            dataPointer.update(repeating: value, count: count)
        } else {
            assign(from: Tensor(value), operation: "fill")
        }
    }
}
