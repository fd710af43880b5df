//! Wheel file names: which ones the runtime (CPython 3.11 on glibc Linux) can install.

/// Whether a wheel file name's tags fit CPython `3.<minor>` on glibc Linux for `machine`.
pub fn compatible(file: &str, minor: u32, machine: &str) -> bool {
    let Some(stem) = file.strip_suffix(".whl") else { return false };
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return false;
    }
    let [py, abi, plat] = [parts[parts.len() - 3], parts[parts.len() - 2], parts[parts.len() - 1]];
    let cp = format!("cp3{minor}");
    let py_ok = py.split('.').any(|t| {
        t == "py3"
            || t == format!("py3{minor}")
            || t == cp
            || (abi == "abi3"
                && t.strip_prefix("cp3")
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m <= minor))
    });
    let abi_ok = abi.split('.').any(|a| a == "none" || a == "abi3" || a == cp);
    let plat_ok = plat.split('.').any(|p| {
        p == "any"
            || p == format!("linux_{machine}")
            || (p.starts_with("manylinux") && p.ends_with(machine) && glibc_ok(p))
    });
    py_ok && abi_ok && plat_ok
}

/// manylinux1/2010/2014 and manylinux_2_N with N <= 36 (Debian bookworm's glibc).
fn glibc_ok(plat: &str) -> bool {
    let Some(rest) = plat.strip_prefix("manylinux_") else { return true };
    let mut it = rest.split('_');
    let (major, minor) = (
        it.next().and_then(|m| m.parse::<u32>().ok()),
        it.next().and_then(|m| m.parse::<u32>().ok()),
    );
    matches!((major, minor), (Some(2), Some(n)) if n <= 36)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_cpython_311_on_linux_installs() {
        assert!(compatible("click-8.1.7-py3-none-any.whl", 11, "x86_64"));
        assert!(compatible("six-1.16.0-py2.py3-none-any.whl", 11, "x86_64"));
        assert!(compatible(
            "numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            11,
            "x86_64"
        ));
        assert!(compatible(
            "cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl",
            11,
            "x86_64"
        ));
    }

    #[test]
    fn rejects_other_pythons_platforms_and_newer_glibc() {
        assert!(!compatible("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl", 11, "x86_64"));
        assert!(!compatible("numpy-2.1.0-cp311-cp311-win_amd64.whl", 11, "x86_64"));
        assert!(!compatible("numpy-2.1.0-cp311-cp311-musllinux_1_1_x86_64.whl", 11, "x86_64"));
        assert!(!compatible("numpy-2.1.0-cp311-cp311-manylinux_2_38_x86_64.whl", 11, "x86_64"));
        assert!(!compatible("numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl", 11, "x86_64"));
        assert!(!compatible("numpy-2.1.0.tar.gz", 11, "x86_64"));
    }
}
