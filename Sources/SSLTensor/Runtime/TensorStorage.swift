/// The memory behind one or more tensors: a 64-byte-aligned run of `Float`s from a
/// `BufferPool`, returned to the pool when the last tensor using it goes away.
///
/// Views (reshape, transpose, slice, expand) share one storage; in-place writes through one
/// view are seen by the others.
public final class TensorStorage: @unchecked Sendable {
    /// The first element.
    public let pointer: UnsafeMutablePointer<Float>
    /// The number of elements the storage was created for.
    public let count: Int
    private let capacity: Int
    private let pool: BufferPool

    /// Allocates uninitialised storage for `count` floats from the context's pool.
    init(uninitializedCount count: Int, context: ComputeContext = .current) {
        let buffer = context.bufferPool.allocate(count: count)
        self.pointer = buffer.pointer
        self.capacity = buffer.capacity
        self.count = count
        self.pool = context.bufferPool
    }

    deinit {
        pool.release(pointer, capacity: capacity)
    }
}
