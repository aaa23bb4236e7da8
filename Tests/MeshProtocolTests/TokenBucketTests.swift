import Testing
import MeshProtocol

@Suite struct TokenBucketTests {
    let start = ContinuousClock.now

    /// How many of `frames` frames sent at `instant` the bucket lets through.
    static func taken(_ frames: Int, at instant: ContinuousClock.Instant, from bucket: inout TokenBucket) -> Int {
        (0..<frames).filter { _ in bucket.take(at: instant) }.count
    }

    @Test func aBurstGoesThroughAtOnceThenTheRateRefills() {
        var bucket = TokenBucket(rate: 10, burst: 5, now: start)
        #expect(Self.taken(6, at: start, from: &bucket) == 5)
        // a tenth of a second buys one frame at 10 a second
        #expect(Self.taken(1, at: start + .milliseconds(50), from: &bucket) == 0)
        #expect(Self.taken(2, at: start + .milliseconds(150), from: &bucket) == 1)
        #expect(Self.taken(10, at: start + .milliseconds(1150), from: &bucket) == 5)
    }

    @Test func refillingStopsAtTheBurst() {
        var bucket = TokenBucket(rate: 10, burst: 3, now: start)
        #expect(Self.taken(10, at: start + .seconds(60), from: &bucket) == 3)
    }

    @Test func aRateOfZeroIsNoLimit() {
        var bucket = TokenBucket(rate: 0, burst: 1, now: start)
        #expect(Self.taken(10000, at: start, from: &bucket) == 10000)
    }

    @Test func waitSaysWhenTheNextTokenComes() {
        var bucket = TokenBucket(rate: 10, burst: 2, now: start)
        #expect(bucket.wait(at: start) == .zero)
        #expect(Self.taken(2, at: start, from: &bucket) == 2)
        #expect(bucket.wait(at: start) == .milliseconds(100))
        #expect(bucket.wait(at: start + .milliseconds(40)) == .milliseconds(60))
        #expect(bucket.wait(at: start + .milliseconds(100)) == .zero)
    }

    /// Bytes: a message takes as many tokens as it has bytes, and one that does not fit
    /// takes none, so a smaller one after it may still pass.
    @Test func anAmountTakesThatManyTokensOrNone() {
        var bucket = TokenBucket(rate: 1000, burst: 5000, now: start)
        #expect(bucket.take(3000, at: start) == true)
        #expect(bucket.take(3000, at: start) == false)
        #expect(bucket.take(2000, at: start) == true)
        #expect(bucket.wait(for: 500, at: start) == .milliseconds(500))
        #expect(bucket.take(500, at: start + .milliseconds(500)) == true)
    }

    /// An amount larger than the burst could never be taken whole: it passes with a full
    /// allowance, and empties it.
    @Test func anAmountAboveTheBurstNeedsAFullAllowance() {
        var bucket = TokenBucket(rate: 1000, burst: 5000, now: start)
        #expect(bucket.take(1, at: start) == true)
        #expect(bucket.take(9000, at: start) == false)
        #expect(bucket.wait(for: 9000, at: start) == .milliseconds(1))
        #expect(bucket.take(9000, at: start + .milliseconds(1)) == true)
        #expect(bucket.take(1, at: start + .milliseconds(1)) == false)
    }
}
