// Elementwise kernels: map, zip (with broadcasting) and strided copy, over the runs of a
// `StridedLayout`. They are generic over the element rule (`UnaryFunction`/`BinaryFunction`), so
// every op gets its own specialised loop; contiguous runs are plain pointer loops the compiler
// vectorises.

extension Tensor {
    /// out[i] = transform(self[i]) into a new contiguous tensor.
    func mapElements<Function: UnaryFunction>(_ transform: Function) -> Tensor {
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
    static func zipElements<Function: BinaryFunction>(
        _ a: Tensor, _ b: Tensor, operation: String, _ combine: Function
    ) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape, operation: operation)
        let result = Tensor(uninitializedShape: shape)
        zipElements(a, b, into: result, operation: operation, combine)
        return result
    }

    /// result[i] = combine(a[i], b[i]) with broadcasting, into an existing tensor (which may
    /// alias `a` or `b` element for element).
    static func zipElements<Function: BinaryFunction>(
        _ a: Tensor, _ b: Tensor, into result: Tensor, operation: String, _ combine: Function
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

    /// Fills every element (of a possibly strided view) with `value`, in place and unrecorded.
    public func fill(with value: Float) {
        if isContiguous {
            dataPointer.update(repeating: value, count: count)
        } else {
            assign(from: Tensor(value), operation: "fill")
        }
    }
}
