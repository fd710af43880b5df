//! Image references (`[registry/]name[:tag]`): validation with a message that says what is wrong.

/// Checks a full reference the way the Docker engine would accept it.
pub fn validate(reference: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{reference:?} is not a valid image reference: {why}"));
    if reference.is_empty() {
        return bad("it is empty");
    }
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (reference, None),
    };
    if let Some(tag) = tag {
        let ok_first = tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_first
            || tag.len() > 128
            || !tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return bad("a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`");
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with `.` or `:` or `localhost` is a registry host[:port].
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').unwrap_or((host, ""));
        if h.is_empty()
            || !h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            || !port.chars().all(|c| c.is_ascii_digit())
        {
            return bad("the registry must be host[:port]");
        }
    }
    for part in parts {
        let valid = !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return bad(
                "each name part is lowercase letters, digits and single separators (`.`, `_`, `-`)",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_common_references() {
        for r in [
            "clients",
            "gw-iaas/export:0.4.0",
            "127.0.0.1:5000/gw-iaas/export:abc1234",
            "localhost/x:latest",
            "a.b_c-d",
        ] {
            assert!(validate(r).is_ok(), "{r}");
        }
    }

    #[test]
    fn rejects_bad_references() {
        for r in ["", "Clients", "x:", "x:-bad", "a//b", "bad name", "x/-y", "host:port:/x"] {
            assert!(validate(r).is_err(), "{r}");
        }
        assert!(validate("Clients").unwrap_err().contains("lowercase"));
    }
}
