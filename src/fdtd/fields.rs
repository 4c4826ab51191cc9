//! Field storage: six single-precision arrays on the node lattice, z fastest.

/// Node-lattice layout shared by all six components: `(nx+1) * (ny+1) * (nz+1)` entries,
/// index `(i * (ny+1) + j) * (nz+1) + k`. Entries outside a component's own range stay zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Cells per axis.
    pub n: [usize; 3],
    /// Stride of i (one x-plane).
    pub sx: usize,
    /// Stride of j (one z-line).
    pub sy: usize,
    /// Total entries.
    pub len: usize,
}

impl Layout {
    pub fn new(n: [usize; 3]) -> Self {
        let sy = n[2] + 1;
        let sx = (n[1] + 1) * sy;
        Self {
            n,
            sx,
            sy,
            len: (n[0] + 1) * sx,
        }
    }
    #[inline(always)]
    pub fn idx(&self, i: usize, j: usize, k: usize) -> usize {
        i * self.sx + j * self.sy + k
    }
    /// Stride along axis `a`.
    #[inline(always)]
    pub fn stride(&self, a: usize) -> usize {
        [self.sx, self.sy, 1][a]
    }
    /// Decomposes a flat index into `(i, j, k)`.
    pub fn ijk(&self, idx: usize) -> [usize; 3] {
        [idx / self.sx, (idx % self.sx) / self.sy, idx % self.sy]
    }
}

/// The electromagnetic fields (V/m and A/m), single precision.
#[derive(Clone, Debug)]
pub struct Fields {
    pub layout: Layout,
    pub e: [Vec<f32>; 3],
    pub h: [Vec<f32>; 3],
}

impl Fields {
    pub fn new(n: [usize; 3]) -> Self {
        let layout = Layout::new(n);
        let z = || vec![0.0f32; layout.len];
        Self {
            layout,
            e: [z(), z(), z()],
            h: [z(), z(), z()],
        }
    }
    /// Bytes held by the six arrays.
    pub fn bytes(&self) -> usize {
        6 * self.layout.len * std::mem::size_of::<f32>()
    }
    pub fn zero(&mut self) {
        for v in self.e.iter_mut().chain(self.h.iter_mut()) {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// Read-only view of a run of x-planes of the three components of E or H, addressed with
/// absolute node indices (`base` is the absolute index of the first value held).
#[derive(Clone, Copy)]
pub struct Window<'a> {
    pub base: usize,
    pub c: [&'a [f32]; 3],
}

impl<'a> Window<'a> {
    /// The whole of E or H.
    pub fn all(v: &'a [Vec<f32>; 3]) -> Self {
        Self {
            base: 0,
            c: [&v[0], &v[1], &v[2]],
        }
    }
    /// Value of component `c` at absolute index `idx`.
    #[inline(always)]
    pub fn at(&self, c: usize, idx: usize) -> f32 {
        self.c[c][idx - self.base]
    }
    /// `n` values of component `c` from absolute index `idx`.
    #[inline(always)]
    pub fn run(&self, c: usize, idx: usize, n: usize) -> &'a [f32] {
        &self.c[c][idx - self.base..idx - self.base + n]
    }
}
