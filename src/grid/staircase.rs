//! The staircase walk: the path of Yee E edges a straight segment between two grid nodes follows.
//! Thin PEC wires (`VoxelModel::pec_wire`), the thin-wire model (`fdtd::thinwire`) and the implant
//! rasteriser all put wires on the grid through this one walk.

/// One edge of a staircased path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StairEdge {
    /// Axis of the edge (0 = x, 1 = y, 2 = z).
    pub axis: usize,
    /// The edge's start node (its lower end along `axis`).
    pub start: [usize; 3],
    /// +1 when the walk runs along the edge's positive direction, -1 against it.
    pub dir: i64,
}

/// The edges from node `from` to node `to`, in walk order: node to node, each step along the axis
/// whose progress lags furthest behind the straight line (the first such axis on a tie). Empty when
/// the nodes coincide; the walk ends at `to`.
pub fn staircase_edges(from: [usize; 3], to: [usize; 3]) -> Vec<StairEdge> {
    let total: [i64; 3] = std::array::from_fn(|a| to[a] as i64 - from[a] as i64);
    let steps: i64 = total.iter().map(|v| v.abs()).sum();
    let mut edges = Vec::with_capacity(steps as usize);
    let mut cur = from;
    let mut done = [0i64; 3];
    for s in 0..steps {
        let frac = (s + 1) as f64 / steps as f64;
        let mut best = 0;
        let mut best_lag = f64::NEG_INFINITY;
        for a in 0..3 {
            if done[a].abs() < total[a].abs() {
                let lag = (total[a] as f64 * frac - done[a] as f64).abs();
                if lag > best_lag {
                    best_lag = lag;
                    best = a;
                }
            }
        }
        let dir = total[best].signum();
        let mut start = cur;
        if dir < 0 {
            start[best] -= 1;
        }
        edges.push(StairEdge { axis: best, start, dir });
        if dir > 0 {
            cur[best] += 1;
        } else {
            cur[best] -= 1;
        }
        done[best] += dir;
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_is_connected_ends_at_the_target_and_takes_the_lagging_axis() {
        let (from, to) = ([5, 2, 7], [2, 6, 7]);
        let e = staircase_edges(from, to);
        assert_eq!(e.len(), 7);
        let mut cur = from;
        for s in &e {
            let mut lo = cur;
            if s.dir < 0 {
                lo[s.axis] -= 1;
            }
            assert_eq!(lo, s.start);
            cur[s.axis] = (cur[s.axis] as i64 + s.dir) as usize;
        }
        assert_eq!(cur, to);
        // |dy| = 4 > |dx| = 3: y lags most at the first step.
        assert_eq!((e[0].axis, e[0].dir), (1, 1));
        assert_eq!((e[1].axis, e[1].dir), (0, -1));
        assert!(staircase_edges(to, to).is_empty());
    }
}
