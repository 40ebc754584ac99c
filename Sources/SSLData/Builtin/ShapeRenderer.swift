import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws one image of `BuiltinShapes`: a shape or textured patch of a class, at a random
/// position, scale, rotation and intensity, over a shaded background with clutter and noise.
///
/// Shapes are signed distance functions in a unit frame (the shape spans about [−1, 1]); a
/// pixel's coverage is clamp(0.5 − d·r) with d the distance at the pixel centre and r the
/// shape's radius in pixels, which anti-aliases edges by one pixel.
struct ShapeRenderer {
    let size: Int
    let channels: Int

    /// Renders class `label` into `output` (channels × size × size bytes, CHW), drawing every
    /// random choice from `generator`.
    func render(label: Int, generator: inout RandomGenerator, into output: UnsafeMutableBufferPointer<UInt8>) {
        let side = Float(size)
        let radius = side * uniform(0.26, 0.36, &generator)
        let shift = Swift.min(0.1 * side, side / 2 - 0.75 * radius)
        let centerX = side / 2 + uniform(-shift, shift, &generator)
        let centerY = side / 2 + uniform(-shift, shift, &generator)
        let angle = uniform(0, 2 * Float.pi, &generator)
        let shape = ShapeParameters(label: label, generator: &generator)

        // Colours: a dark-ish background with a gradient, a brighter foreground.
        var background: (Float, Float, Float) = (0, 0, 0)
        var foreground: (Float, Float, Float) = (0, 0, 0)
        let baseLevel = uniform(0, 0.4, &generator)
        let lift = uniform(0.3, 0.65, &generator)
        if channels == 1 {
            background = (baseLevel, baseLevel, baseLevel)
            let level = Swift.min(1, baseLevel + lift)
            foreground = (level, level, level)
        } else {
            background = (uniform(0, 0.4, &generator), uniform(0, 0.4, &generator), uniform(0, 0.4, &generator))
            foreground = (uniform(0.45, 1, &generator), uniform(0.45, 1, &generator), uniform(0.45, 1, &generator))
        }
        let gradientAngle = uniform(0, 2 * Float.pi, &generator)
        let gradientAmount = uniform(0, 0.3, &generator) / side
        let gradientX = cosf(gradientAngle) * gradientAmount, gradientY = sinf(gradientAngle) * gradientAmount
        let noiseLevel = uniform(0.02, 0.1, &generator)
        let clutter = Clutter(size: side, generator: &generator)

        let cosA = cosf(angle), sinA = sinf(angle)
        let inverseRadius = 1 / radius
        let plane = size * size
        var noise = NoiseSource(seed: generator.next())
        for y in 0..<size {
            let py = Float(y) + 0.5 - centerY
            for x in 0..<size {
                let px = Float(x) + 0.5 - centerX
                // Into the shape's unit frame: rotate by −angle, divide by the radius.
                let u: Float = (cosA * px + sinA * py) * inverseRadius
                let v: Float = (cosA * py - sinA * px) * inverseRadius
                let distance = shape.distance(u, v) * radius
                let coverage = Swift.min(Swift.max(0.5 - distance, 0), 1)
                let shade: Float = gradientX * (px + centerX - side / 2) + gradientY * (py + centerY - side / 2)
                let clutterLevel = clutter.level(Float(x) + 0.5, Float(y) + 0.5)
                let pixel = y &* size &+ x
                for channel in 0..<channels {
                    let back: Float = channel == 0 ? background.0 : (channel == 1 ? background.1 : background.2)
                    let fore: Float = channel == 0 ? foreground.0 : (channel == 1 ? foreground.1 : foreground.2)
                    let ground: Float = Swift.max(back + shade, clutterLevel)
                    let mixed: Float = ground + coverage * (fore - ground)
                    let value: Float = mixed + noiseLevel * noise.nextGaussian()
                    let clamped = Swift.min(Swift.max(value, 0), 1)
                    output[channel &* plane &+ pixel] = UInt8((clamped * 255).rounded())
                }
            }
        }
    }

    @inline(__always)
    private func uniform(_ low: Float, _ high: Float, _ generator: inout RandomGenerator) -> Float {
        low + (high - low) * generator.nextUniform()
    }
}

/// The class-specific shape and its random details, as a signed distance in the unit frame.
private struct ShapeParameters {
    let label: Int
    let a: Float  // a per-class detail: thickness, period, inner radius, offset
    let b: Float

    init(label: Int, generator: inout RandomGenerator) {
        self.label = label
        let r1 = generator.nextUniform(), r2 = generator.nextUniform()
        switch label {
        case 1: a = 0.18 + 0.14 * r1; b = 0            // ring: half thickness
        case 3: a = 0.14 + 0.12 * r1; b = 0            // frame: half thickness
        case 5: a = 0.22 + 0.14 * r1; b = 0            // plus: arm half width
        case 6: a = 0.45 + 0.2 * r1; b = 0             // stripes: period
        case 7: a = 0.45 + 0.25 * r1; b = 0            // checkerboard: cell size
        case 8: a = 0.35 + 0.2 * r1; b = 0             // star: inner radius
        case 9: a = 0.35 + 0.25 * r1; b = 0.75 + 0.15 * r2  // crescent: offset, cut radius
        default: a = 0; b = 0
        }
    }

    @inline(__always)
    func distance(_ x: Float, _ y: Float) -> Float {
        switch label {
        case 0:  // disk
            return (x * x + y * y).squareRoot() - 0.9
        case 1:  // ring
            return Swift.abs((x * x + y * y).squareRoot() - 0.8) - a
        case 2:  // square
            return box(x, y, 0.78, 0.78)
        case 3:  // square frame
            return Swift.abs(box(x, y, 0.82, 0.82)) - a
        case 4:  // equilateral triangle centred on its centroid
            return triangle(x, y, 0.95)
        case 5:  // plus
            return Swift.min(box(x, y, 0.95, a), box(x, y, a, 0.95))
        case 6:  // stripes inside a disk
            let phase = x / a
            let f = phase - phase.rounded(.down)
            let stripe: Float = (Swift.abs(f - 0.5) - 0.25) * a
            return Swift.max((x * x + y * y).squareRoot() - 0.95, stripe)
        case 7:  // checkerboard inside a square
            let cu = x / a, cv = y / a
            let fu = cu - cu.rounded(.down), fv = cv - cv.rounded(.down)
            let edge: Float = Swift.min(Swift.min(fu, 1 - fu), Swift.min(fv, 1 - fv)) * a
            let parity = (Int(cu.rounded(.down)) &+ Int(cv.rounded(.down))) & 1
            return Swift.max(box(x, y, 0.8, 0.8), parity == 0 ? -edge : edge)
        case 8:  // five-pointed star (polar outline, approximate distance)
            let length = (x * x + y * y).squareRoot()
            let turns: Float = atan2f(y, x) * (5 / (2 * Float.pi))
            let t = turns - turns.rounded(.down)
            let spike = Swift.abs(2 * t - 1)
            let outline: Float = a + (1 - a) * spike
            return (length - outline) * 0.6
        default:  // crescent: a disk with an offset disk cut out
            let outer = (x * x + y * y).squareRoot() - 0.95
            let dx = x - a
            let cut = (dx * dx + y * y).squareRoot() - b
            return Swift.max(outer, -cut)
        }
    }

    @inline(__always)
    private func box(_ x: Float, _ y: Float, _ halfWidth: Float, _ halfHeight: Float) -> Float {
        let qx = Swift.abs(x) - halfWidth, qy = Swift.abs(y) - halfHeight
        let ox = Swift.max(qx, 0), oy = Swift.max(qy, 0)
        return (ox * ox + oy * oy).squareRoot() + Swift.min(Swift.max(qx, qy), 0)
    }

    /// Inigo Quilez's exact distance to an equilateral triangle of half side `r`.
    @inline(__always)
    private func triangle(_ x: Float, _ y: Float, _ r: Float) -> Float {
        let k: Float = 1.7320508
        var px = Swift.abs(x) - r
        var py = y + r / k
        if px + k * py > 0 {
            let nx = (px - k * py) / 2, ny = (-k * px - py) / 2
            px = nx
            py = ny
        }
        px -= Swift.min(Swift.max(px, -2 * r), 0)
        let length = (px * px + py * py).squareRoot()
        return py < 0 ? length : -length
    }
}

/// Distractors: a few faint random strokes behind the shape.
private struct Clutter {
    let count: Int
    // Up to three segments: endpoints, half width, level.
    var segments: [(Float, Float, Float, Float, Float, Float)] = []

    init(size: Float, generator: inout RandomGenerator) {
        count = generator.nextInt(below: 2)
        for _ in 0..<count {
            let x0 = size * generator.nextUniform(), y0 = size * generator.nextUniform()
            let x1 = size * generator.nextUniform(), y1 = size * generator.nextUniform()
            let halfWidth: Float = 0.5 + 0.6 * generator.nextUniform()
            let level: Float = 0.2 + 0.35 * generator.nextUniform()
            segments.append((x0, y0, x1, y1, halfWidth, level))
        }
    }

    /// The brightest stroke covering (x, y), or 0.
    @inline(__always)
    func level(_ x: Float, _ y: Float) -> Float {
        var best: Float = 0
        for (x0, y0, x1, y1, halfWidth, level) in segments {
            let dx = x1 - x0, dy = y1 - y0
            let lengthSquared = Swift.max(dx * dx + dy * dy, 1e-6)
            let t = Swift.min(Swift.max(((x - x0) * dx + (y - y0) * dy) / lengthSquared, 0), 1)
            let ex = x - (x0 + t * dx), ey = y - (y0 + t * dy)
            let distance = (ex * ex + ey * ey).squareRoot() - halfWidth
            let coverage = Swift.min(Swift.max(0.5 - distance, 0), 1)
            best = Swift.max(best, coverage * level)
        }
        return best
    }
}

/// Cheap approximately Gaussian pixel noise: each 64-bit draw of a xorshift generator gives four
/// 16-bit uniforms whose centred, rescaled sum has unit variance (Irwin–Hall with n = 4).
private struct NoiseSource {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    @inline(__always)
    mutating func nextGaussian() -> Float {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let bits = state
        let a = Float(bits & 0xFFFF), b = Float((bits >> 16) & 0xFFFF)
        let c = Float((bits >> 32) & 0xFFFF), d = Float(bits >> 48)
        let sum: Float = (a + b + c + d) * (1 / 65_536)
        return (sum - 2) * 1.7320508  // variance of the sum of four U(0,1) is 1/3
    }
}
