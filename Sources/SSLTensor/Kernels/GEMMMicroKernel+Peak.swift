import CSSLKernels

// MARK: - Measured FMA peak

extension GEMMMicroKernel {
    /// The single-core peak of this kernel family in GFLOP/s, measured: a loop of independent
    /// fused multiply-adds on registers only (C, `ssl_fma_peak_*`: 512-bit FMAs for `.avx512`,
    /// 256-bit for `.avx2`, multiplies and adds of the baseline ISA for `.portable`), timed on
    /// the calling thread. Best of repeated runs of about 4 ms until `minimumSeconds` have
    /// passed. A GEMM or convolution rate on `t` threads reads as a fraction of `t ×` this.
    ///
    /// ```swift
    /// let peak = GEMMMicroKernel.best.measuredPeakGFLOPs()   // e.g. 150 on one AVX-512 core
    /// ```
    public func measuredPeakGFLOPs(minimumSeconds: Double = 0.5) -> Double {
        precondition(isSupported, "measuredPeakGFLOPs: kernel \(rawValue) is not supported on this CPU")
        var sink: Float = 0
        func run(_ iterations: Int) -> Int {
            switch self {
            case .avx512: return ssl_fma_peak_avx512(iterations, &sink)
            case .avx2: return ssl_fma_peak_avx2(iterations, &sink)
            case .portable: return ssl_fma_peak_generic(iterations, &sink)
            }
        }
        let clock = ContinuousClock()
        // Calibrate to about 4 ms a run (short runs are the likeliest to have the core to themselves).
        var iterations = 1 << 12
        while true {
            let elapsed = clock.measure { _ = run(iterations) }
            if seconds(elapsed) >= 2e-3 || iterations >= 1 << 30 { break }
            iterations *= 2
        }
        let calibration = clock.measure { _ = run(iterations) }
        iterations = max(1, Int(Double(iterations) * 0.004 / max(seconds(calibration), 1e-6)))
        var best = 0.0, total = 0.0, runs = 0
        while runs < 5 || total < minimumSeconds {
            var operations = 0
            let elapsed = clock.measure { operations = run(iterations) }
            let time = seconds(elapsed)
            best = max(best, Double(operations) / time / 1e9)
            total += time
            runs += 1
        }
        precondition(sink.isFinite, "measuredPeakGFLOPs: the peak loop produced \(sink)")
        return best
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
