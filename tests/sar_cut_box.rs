//! Mass-averaged SAR on a box cut out of a larger gel body (the local box of an implant): the voxels
//! whose averaging cube the box truncates are marked "not evaluated" instead of taking the average of a
//! cube reaching towards the hot spot (the bright frame along the box's edge, issue 20 item 4).

use ndarray::Array3;
use rftwin::dosimetry::sar::{mass_averaged_sar, mass_averaged_sar_in_cut_box, SarInput, VoxelStatus};
use rftwin::dosimetry::VoxelGrid;

const N: usize = 40;
const D: f64 = 1.5e-3;

/// A gel box (1000 kg/m^3) of N^3 voxels with a sharp hot spot at `centre` (voxel indices); voxels
/// with `x index >= air_from` are air.
fn gel_box(centre: [f64; 3], air_from: usize) -> SarInput {
    let mut p = Array3::<f32>::zeros((N, N, N));
    let mut rho = Array3::<f32>::zeros((N, N, N));
    for ((i, j, k), v) in p.indexed_iter_mut() {
        if i >= air_from {
            continue;
        }
        rho[[i, j, k]] = 1000.0;
        let r2 = [i, j, k]
            .iter()
            .zip(centre)
            .map(|(&a, c)| (a as f64 - c).powi(2))
            .sum::<f64>();
        *v = (1e3 + 1e6 * (-r2 / 4.0).exp()) as f32;
    }
    SarInput::from_power_density("gel box", p, rho, VoxelGrid::new([D; 3]).unwrap()).unwrap()
}

fn half_edge_voxels(mass: f64) -> f64 {
    0.5 * (mass / 1000.0f64).cbrt() / D
}

#[test]
fn cut_box_faces_are_not_evaluated_and_the_peak_lies_inside() {
    let c = (N as f64 - 1.0) / 2.0;
    let input = gel_box([c, c + 6.0, c], N);
    for mass in [1e-3, 10e-3] {
        let plain = mass_averaged_sar(&input, mass).unwrap();
        let cut = mass_averaged_sar_in_cut_box(&input, mass).unwrap();
        let h = half_edge_voxels(mass);
        // The plain rules give the outer layer the average of a cube reaching in towards the hot spot.
        let outer_plain = plain.sar_w_per_kg[[N / 2, N - 1, N / 2]];
        assert!(outer_plain.is_finite() && outer_plain > 0.0);
        for ((i, j, k), v) in cut.sar_w_per_kg.indexed_iter() {
            let dist = [i, j, k]
                .iter()
                .map(|&a| (a as f64 + 0.5).min(N as f64 - a as f64 - 0.5))
                .fold(f64::MAX, f64::min);
            let st = VoxelStatus::from_u8(cut.status[[i, j, k]]).unwrap();
            if dist < h {
                assert_eq!(st, VoxelStatus::Truncated, "mass {mass}: voxel {i},{j},{k} at {dist} voxels from the edge");
                assert!(v.is_nan());
            } else {
                assert!(v.is_finite(), "mass {mass}: voxel {i},{j},{k} inside the box not evaluated");
            }
        }
        assert!(cut.counts.truncated > 0);
        let pk = cut.peak.index;
        let dist = pk.iter().map(|&a| a.min(N - 1 - a)).min().unwrap() as f64;
        assert!(dist + 0.5 >= h, "mass {mass}: peak at {pk:?} within a cube half-edge of the box edge");
        assert_eq!(cut.peak.status, VoxelStatus::Valid);
        // The valid centres are unchanged, so the peak can only be the plain peak or below it.
        assert!(cut.peak.sar_w_per_kg <= plain.peak.sar_w_per_kg + 1e-9);
    }
}

#[test]
fn a_real_gel_surface_inside_the_box_keeps_the_standards_rules() {
    // Air from x index 30 on: the gel's surface lies inside the box, so the voxels next to it are
    // evaluated by the standard's surface rules (used or unused), not marked as truncated.
    let c = (N as f64 - 1.0) / 2.0;
    let input = gel_box([c - 5.0, c, c], 30);
    let cut = mass_averaged_sar_in_cut_box(&input, 10e-3).unwrap();
    let st = VoxelStatus::from_u8(cut.status[[29, N / 2, N / 2]]).unwrap();
    assert!(matches!(st, VoxelStatus::Used | VoxelStatus::Unused), "{st:?}");
    assert!(cut.sar_w_per_kg[[29, N / 2, N / 2]].is_finite());
    // The face at x = 0 still cuts the gel.
    assert_eq!(VoxelStatus::from_u8(cut.status[[0, N / 2, N / 2]]), Some(VoxelStatus::Truncated));
}
