import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread-safe cache of 64-byte-aligned `Float` buffers, so that the steady state of a
/// training loop reuses memory instead of page-faulting freshly mapped allocations.
///
/// Large buffers (at least `minimumPooledCount` floats) are rounded up to a size class (eight
/// classes per power of two, so at most 12.5% slack) and kept on free lists when released,
/// up to `capacityBytes` in total; a release into a full pool first returns cached buffers of
/// other sizes to the system. Small
/// buffers go straight to `posix_memalign`/`free`, which is already fast for them.
///
/// ```swift
/// let pool = BufferPool(capacityBytes: 1 << 30)
/// let buffer = pool.allocate(count: 1_000_000)
/// pool.release(buffer.pointer, capacity: buffer.capacity)
/// ```
public final class BufferPool: Sendable {
    /// Buffers smaller than this many floats are not pooled.
    public static let minimumPooledCount = 4096

    /// The most bytes the pool keeps cached for reuse.
    public let capacityBytes: Int

    private struct State: ~Copyable {
        var freeLists: [Int: [UInt]] = [:]  // capacity → addresses of cached buffers
        var cachedBytes = 0
        var hits = 0
        var misses = 0
    }

    private let state: Mutex<State>

    /// Creates a pool that caches at most `capacityBytes` of released buffers.
    public init(capacityBytes: Int = 2 << 30) {
        self.capacityBytes = capacityBytes
        self.state = Mutex(State())
    }

    deinit {
        state.withLock { state in
            for (_, pointers) in state.freeLists {
                for address in pointers { free(UnsafeMutableRawPointer(bitPattern: address)) }
            }
            state.freeLists = [:]
        }
    }

    /// The capacity (in floats) a request of `count` floats is rounded up to.
    @inlinable
    public static func sizeClass(for count: Int) -> Int {
        let count = max(count, 1)
        if count < minimumPooledCount { return (count &+ 15) & ~15 }
        let highestBit = Int.bitWidth &- 1 &- count.leadingZeroBitCount
        let step = 1 << (highestBit &- 3)
        return (count &+ step &- 1) / step &* step
    }

    /// Returns a 64-byte-aligned buffer of at least `count` floats (uninitialised) and its
    /// capacity, which must be passed back to `release`.
    public func allocate(count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let capacity = Self.sizeClass(for: count)
        if capacity >= Self.minimumPooledCount {
            let reused: UInt? = state.withLock { state in
                if let address = state.freeLists[capacity]?.popLast() {
                    state.cachedBytes -= capacity &* 4
                    state.hits += 1
                    return address
                }
                state.misses += 1
                return nil
            }
            if let reused, let raw = UnsafeMutableRawPointer(bitPattern: reused) {
                return (raw.assumingMemoryBound(to: Float.self), capacity)
            }
        }
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, capacity &* MemoryLayout<Float>.stride)
        guard status == 0, let raw else {
            fatalError("BufferPool: out of memory allocating \(capacity) floats (\(capacity * 4) bytes)")
        }
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    /// Returns a buffer obtained from `allocate` to the pool (or to the system when the pool is
    /// full or the buffer is small).
    public func release(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let raw = UnsafeMutableRawPointer(pointer)
        let address = UInt(bitPattern: raw)
        if capacity >= Self.minimumPooledCount {
            var evicted: [UInt] = []
            let kept: Bool = state.withLock { state in
                let bytes = capacity &* 4
                guard bytes <= capacityBytes else { return false }
                // Full: make room by dropping cached buffers of other sizes (a workload that
                // changed shapes — another model — must not be left allocating fresh pages).
                while state.cachedBytes &+ bytes > capacityBytes,
                      let (size, addresses) = state.freeLists.first(where: { $0.key != capacity && !$0.value.isEmpty }),
                      let victim = addresses.last {
                    state.freeLists[size]?.removeLast()
                    if state.freeLists[size]?.isEmpty == true { state.freeLists[size] = nil }
                    state.cachedBytes &-= size &* 4
                    evicted.append(victim)
                }
                guard state.cachedBytes &+ bytes <= capacityBytes else { return false }
                state.freeLists[capacity, default: []].append(address)
                state.cachedBytes &+= bytes
                return true
            }
            for victim in evicted { free(UnsafeMutableRawPointer(bitPattern: victim)) }
            if kept { return }
        }
        free(raw)
    }

    /// Bytes currently cached for reuse, and how many pooled requests were served from the
    /// cache (`hits`) or from the system (`misses`).
    public var statistics: (cachedBytes: Int, hits: Int, misses: Int) {
        state.withLock { ($0.cachedBytes, $0.hits, $0.misses) }
    }

    /// Returns every cached buffer to the system.
    public func trim() {
        state.withLock { state in
            for (_, pointers) in state.freeLists {
                for address in pointers { free(UnsafeMutableRawPointer(bitPattern: address)) }
            }
            state.freeLists = [:]
            state.cachedBytes = 0
        }
    }
}
