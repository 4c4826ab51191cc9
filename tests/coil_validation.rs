//! Each coil validation case (defined once in `rftwin::coil::validation`) must pass.

mod common;
use common::check;

#[test]
fn grover_filaments() {
    check("coil_grover_filaments");
}
#[test]
fn bb_app_inductances() {
    check("coil_bb_app_inductances");
}
#[test]
fn lp_closed_form() {
    check("coil_lp_closed_form");
}
#[test]
fn hp_closed_form() {
    check("coil_hp_closed_form");
}
#[test]
fn bp_closed_form() {
    check("coil_bp_closed_form");
}
#[test]
fn mode_count_order() {
    check("coil_mode_count_order");
}
#[test]
fn bb2002_a_lp() {
    check("coil_bb2002_a_lp");
}
#[test]
fn bb2002_b_lp() {
    check("coil_bb2002_b_lp");
}
#[test]
fn bb2002_d_lp() {
    check("coil_bb2002_d_lp");
}
#[test]
fn bb2002_g_hp() {
    check("coil_bb2002_g_hp");
}
#[test]
fn bb2002_i_bp() {
    check("coil_bb2002_i_bp");
}
#[test]
fn bb2002_j_bp() {
    check("coil_bb2002_j_bp");
}
#[test]
fn sim4life_hp16_128mhz() {
    check("coil_sim4life_hp16_128mhz");
}
#[test]
fn shipped_tuned_at_larmor() {
    check("coil_shipped_tuned_at_larmor");
}
