//! The twin's coarse-grid dissipation from its E edges (`twin::basis::edge_power_density`): each
//! edge's loss `0.5 sigma |E|^2` shared by the cells around it in proportion to their mass, so the
//! total is the edges' own total and no loss lands in a cell without mass.

use ndarray::Array3;
use num_complex::Complex32;
use rftwin::fdtd::{FieldKind, YeeVector};
use rftwin::grid::{GridPlacement, RegularField};
use rftwin::twin::basis::edge_power_density;

#[test]
fn edge_losses_go_to_the_cells_with_mass() {
    let d = 1.0;
    // 2 x 2 x 2 cells, nodes 0..=2 on every axis; Ex lives on (i + 1/2, j, k).
    let cells = GridPlacement::cell_centres([0.0; 3], [d; 3], [2, 2, 2]);
    let comp = |a: usize, v: f32| {
        let mut dims = [3usize; 3];
        dims[a] = 2;
        let mut o = [0.0; 3];
        o[a] = 0.5 * d;
        RegularField::new(Array3::from_elem(dims, Complex32::new(v, 0.0)), o, [d; 3]).unwrap()
    };
    let e = YeeVector::new(FieldKind::E, [comp(0, 1.0), comp(1, 0.0), comp(2, 0.0)]).unwrap();
    let sigma = [0, 1, 2].map(|a| {
        let mut dims = [3usize; 3];
        dims[a] = 2;
        Array3::from_elem(dims, 1.0f32)
    });
    // The cells at i = 0 are gel (1000 kg/m^3), those at i = 1 air.
    let mut rho = Array3::<f32>::zeros([2, 2, 2]);
    rho.slice_mut(ndarray::s![0, .., ..]).fill(1000.0);
    let p = edge_power_density(&e, &sigma, &cells, &rho);
    // The 9 x edges at i = 0 each lose 0.5 W (unit volume) and have gel around them; the 9 at i = 1
    // have none and are not counted.
    let total: f64 = p.iter().map(|v| *v as f64).sum();
    assert!((total - 4.5).abs() < 1e-6, "{total}");
    assert!(p.slice(ndarray::s![1, .., ..]).iter().all(|v| *v == 0.0));
    // Corner cell (0, 0, 0): its edge on the grid's corner (only neighbour: itself) 0.5, two edges
    // shared with one other cell 0.25 each, the central edge shared by four 0.125.
    assert!((p[[0, 0, 0]] as f64 - 1.125).abs() < 1e-6, "{}", p[[0, 0, 0]]);
    // A mass-weighted share: with the cell (0, 1, 1) heavier, the central edge leans to it.
    rho[[0, 1, 1]] = 3000.0;
    let q = edge_power_density(&e, &sigma, &cells, &rho);
    let total_q: f64 = q.iter().map(|v| *v as f64).sum();
    assert!((total_q - 4.5).abs() < 1e-6, "{total_q}");
    assert!(q[[0, 1, 1]] > p[[0, 1, 1]] && q[[0, 0, 0]] < p[[0, 0, 0]]);
}
