#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory this process may use: the machine's physical memory, or the cgroup (v2)
/// limit of its container when that is lower.
enum SystemMemory {
    /// Bytes of memory available to the process.
    static var availableBytes: Int {
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES))), pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let physical = pages > 0 && pageSize > 0 ? pages * pageSize : 4 << 30
        if let limit = cgroupLimit(), limit > 0, limit < physical { return limit }
        return physical
    }

    /// The number in /sys/fs/cgroup/memory.max ("max" or absent means none).
    static func cgroupLimit() -> Int? {
        let descriptor = open("/sys/fs/cgroup/memory.max", O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { raw in read(descriptor, raw.baseAddress, raw.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingWhitespace()
        return Int(text)
    }
}

private extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}
