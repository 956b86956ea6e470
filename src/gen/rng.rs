//! A small, fixed PRNG and a table-driven Zipf sampler.
//!
//! The generators must produce the same bytes for the same seed on every
//! platform and every build, so everything here is integer arithmetic with a
//! fixed algorithm: [`Rng`] is xoshiro256** (Blackman and Vigna) seeded
//! through SplitMix64, bounded integers use Lemire's multiply-shift with
//! rejection, and [`Zipf`] samples from precomputed cumulative `u64` weights
//! by binary search. No floating-point value ever decides a sample, so no
//! libm difference can change the output.

/// One step of SplitMix64: advances `state` and returns the next output.
///
/// Used to expand a 64-bit seed into xoshiro's 256-bit state and as a cheap
/// stateless hash ([`mix64`]).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// The SplitMix64 finaliser: a fast, well-mixing bijection on `u64`.
pub fn mix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256**: a fast 64-bit generator with 256 bits of state.
///
/// Not cryptographic. The algorithm is fixed, so a seed names one sequence
/// forever.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose state is four SplitMix64 outputs of `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (`n` must be positive), without modulo bias.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let mut m = (self.next_u64() as u128) * (n as u128);
        let mut lo = m as u64;
        if lo < n {
            let threshold = n.wrapping_neg() % n;
            while lo < threshold {
                m = (self.next_u64() as u128) * (n as u128);
                lo = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    #[inline]
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    #[inline]
    pub fn per_mille(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille as u64
    }

    /// True with probability `p` (clamped to `0..=1`).
    ///
    /// `p` is turned into a 64-bit threshold once; the comparison is integer.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let threshold = (p * 18_446_744_073_709_551_616.0) as u64;
        self.next_u64() < threshold
    }

    /// A geometric count: the number of fair coin flips that come up heads
    /// before the first tail, at most `cap` (`P(k) = 2^-(k+1)`).
    #[inline]
    pub fn geometric(&mut self, cap: u32) -> u32 {
        self.next_u64().trailing_ones().min(cap)
    }

    /// One element of `items`, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A sampler over ranks `0..n` with arbitrary non-negative integer weights.
///
/// Holds the cumulative weights; a sample draws a uniform integer below the
/// total and finds its rank by binary search (`O(log n)`), narrowed first by
/// a guide table indexed by the draw's top bits, so draws in the heavy head
/// take a step or two.
#[derive(Clone, Debug)]
pub struct Zipf {
    cumulative: Vec<u64>,
    /// `guide[j]` is the rank of the draw `j * total / GUIDE`.
    guide: Vec<u32>,
}

/// Entries in a [`Zipf`] guide table.
const GUIDE: u64 = 1024;

impl Zipf {
    /// Classic Zipf with exponent 1 over `n` ranks: rank `k` (0-based) has
    /// weight proportional to `1 / (k + 1 + offset)`.
    ///
    /// `offset` (Zipf–Mandelbrot's `q`) flattens the head: 0 is pure Zipf.
    pub fn new(n: usize, offset: u32) -> Zipf {
        assert!(n > 0, "Zipf over zero ranks");
        const SCALE: u64 = 1 << 40;
        Zipf::from_weights((0..n).map(|k| SCALE / (k as u64 + 1 + offset as u64)))
    }

    /// A sampler whose rank `k` has weight `weights[k]`; the total must be positive.
    pub fn from_weights(weights: impl IntoIterator<Item = u64>) -> Zipf {
        let mut total = 0u64;
        let cumulative: Vec<u64> = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        assert!(total > 0, "Zipf weights sum to zero");
        let guide = (0..=GUIDE)
            .map(|j| {
                // The smallest draw whose guide index is `j`.
                let r = ((j as u128 * total as u128).div_ceil(GUIDE as u128)) as u64;
                cumulative
                    .partition_point(|&c| c <= r)
                    .min(cumulative.len() - 1) as u32
            })
            .collect();
        Zipf { cumulative, guide }
    }

    /// Number of ranks.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a sampler has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// Draws a rank in `0..len()`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("non-empty");
        let r = rng.below(total);
        let j = if total <= u64::MAX / GUIDE {
            (r * GUIDE / total) as usize
        } else {
            ((r as u128 * GUIDE as u128) / total as u128) as usize
        };
        let lo = self.guide[j] as usize;
        let hi = self.guide[j + 1] as usize + 1;
        lo + self.cumulative[lo..hi].partition_point(|&c| c <= r)
    }

    /// The probability of rank `k`, for tests and documentation.
    pub fn probability(&self, k: usize) -> f64 {
        let total = *self.cumulative.last().expect("non-empty") as f64;
        let prev = if k == 0 { 0 } else { self.cumulative[k - 1] };
        (self.cumulative[k] - prev) as f64 / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_sequence() {
        // Known-answer test: first outputs for state [1, 2, 3, 4] from the
        // reference C implementation of xoshiro256**.
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, vec![11520, 0, 1509978240]);
    }

    #[test]
    fn splitmix_reference() {
        // SplitMix64 seeded with 0: first output from the reference implementation.
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(7);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = r.below(7);
            assert!(x < 7);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn zipf_head_is_heavier() {
        let z = Zipf::new(1000, 0);
        let mut r = Rng::new(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut r)] += 1;
        }
        // Rank 0 has probability 1/H(1000) ≈ 0.134.
        assert!((12_000..15_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[9]);
        assert!((z.probability(0) - 0.1336).abs() < 0.001);
    }

    #[test]
    fn zipf_guide_agrees_with_plain_search() {
        for z in [
            Zipf::new(3000, 0),
            Zipf::from_weights([3, 0, 0, 1, 7, 0]),
            Zipf::new(1, 0),
        ] {
            let mut a = Rng::new(9);
            let mut b = a.clone();
            for _ in 0..20_000 {
                let k = z.sample(&mut a);
                let total = *z.cumulative.last().unwrap();
                let r = b.below(total);
                assert_eq!(k, z.cumulative.partition_point(|&c| c <= r));
            }
        }
    }

    #[test]
    fn zipf_weights_zero_rank_never_drawn() {
        let z = Zipf::from_weights([0, 5, 0, 5]);
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let k = z.sample(&mut r);
            assert!(k == 1 || k == 3);
        }
    }
}
