import SSLTensor
import CSSLKernels
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
// kernel-only peak
do {
    let kc = 256
    let a = UnsafeMutablePointer<Float>.allocate(capacity: 12*kc); a.initialize(repeating: 0.5, count: 12*kc)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: 32*kc); b.initialize(repeating: 0.5, count: 32*kc)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: 12*32)
    let reps = 200000
    let s = now()
    for _ in 0..<reps { ssl_sgemm_kernel_12x32_avx512(kc, a, b, c, 32, 1, 0) }
    let t = now() - s
    print("kernel-only avx512 1 thread:", 2.0*12*32*Double(kc)*Double(reps)/t/1e9)
}
for threads in [1, 2] {
    let ctx = ComputeContext(threadCount: threads)
    for (m, k, n) in [(1024,1024,1024),(256,256,256)] {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m*k); let b = UnsafeMutablePointer<Float>.allocate(capacity: k*n); let c = UnsafeMutablePointer<Float>.allocate(capacity: m*n)
        for i in 0..<m*k { a[i] = Float(i % 7) * 0.1 }; for i in 0..<k*n { b[i] = Float(i % 5) * 0.1 }
        for _ in 0..<3 { gemm(m: m, n: n, k: k, a: .rowMajor(a, columns: k), b: .rowMajor(b, columns: n), c: c, ldc: n, context: ctx) }
        var best = 1e9
        for _ in 0..<10 { let s = now(); gemm(m: m, n: n, k: k, a: .rowMajor(a, columns: k), b: .rowMajor(b, columns: n), c: c, ldc: n, context: ctx); best = min(best, now()-s) }
        print("threads \(threads) \(m) \(2.0*Double(m*n*k)/best/1e9)")
    }
}
