#[test]
fn help_works() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bufbridge")).arg("--help").output().unwrap();
    assert!(out.status.success());
}
