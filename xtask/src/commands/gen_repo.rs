//! `cargo xtask gen-repo`: writes a synthetic monorepo of N libs in layers and M projects.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;

use crate::cli::GenRepoArgs;

/// SplitMix64: a tiny deterministic generator, so a seed always gives the same repo.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One generated package: folder, name, and local dependencies (index, optional).
struct Spec {
    dir: String,
    name: String,
    deps: Vec<(usize, bool)>,
}

/// The shape of the repo, without writing anything: libs in `depth` layers, each lib above
/// layer 0 depending on one or two libs of the layer below (sometimes optionally), projects
/// depending on one to three libs of any layer.
fn plan(args: &GenRepoArgs) -> Vec<Spec> {
    let mut rng = Rng(args.seed);
    let depth = args.depth.max(1);
    let layer_of = |i: usize| i * depth / args.libs.max(1);
    let mut specs: Vec<Spec> = Vec::with_capacity(args.libs + args.projects);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for i in 0..args.libs {
        let layer = layer_of(i);
        let mut deps = Vec::new();
        if layer > 0 {
            let below = &layers[layer - 1];
            for k in 0..1 + rng.below(2) {
                let dep = below[rng.below(below.len())];
                if !deps.iter().any(|(d, _)| *d == dep) {
                    deps.push((dep, k == 1 && rng.below(3) == 0));
                }
            }
        }
        layers[layer].push(i);
        specs.push(Spec {
            dir: format!("libs/layer{layer}/lib{i:04}"),
            name: format!("synth.lib{i:04}"),
            deps,
        });
    }
    for j in 0..args.projects {
        let mut deps: Vec<(usize, bool)> = Vec::new();
        if args.libs > 0 {
            for _ in 0..1 + rng.below(3) {
                let dep = rng.below(args.libs);
                if !deps.iter().any(|(d, _)| *d == dep) {
                    deps.push((dep, false));
                }
            }
        }
        specs.push(Spec { dir: format!("projects/app{j:04}"), name: format!("app{j:04}"), deps });
    }
    specs
}

/// Manifest text: even packages in Poetry 1.x form, odd ones in PEP 621 form.
fn manifest(specs: &[Spec], i: usize) -> String {
    let s = &specs[i];
    let rel = |d: usize| {
        let up = "../".repeat(s.dir.matches('/').count() + 1);
        format!("{up}{}", specs[d].dir)
    };
    let module = s.name.replace(['.', '-'], "_");
    let mut out = String::new();
    if i.is_multiple_of(2) {
        let _ = writeln!(out, "[tool.poetry]\nname = \"{}\"\nversion = \"0.1.{i}\"", s.name);
        let _ = writeln!(out, "packages = [{{ include = \"{module}\" }}]\n\n[tool.poetry.dependencies]\npython = \"^3.11\"");
        for &(d, optional) in &s.deps {
            let opt = if optional { ", optional = true" } else { "" };
            let _ = writeln!(
                out,
                "\"{}\" = {{ path = \"{}\", develop = true{opt} }}",
                specs[d].name,
                rel(d)
            );
        }
        let optional: Vec<&str> =
            s.deps.iter().filter(|d| d.1).map(|&(d, _)| specs[d].name.as_str()).collect();
        if !optional.is_empty() {
            let _ = writeln!(out, "\n[tool.poetry.extras]\nfull = {optional:?}");
        }
    } else {
        let required: Vec<&str> =
            s.deps.iter().filter(|d| !d.1).map(|&(d, _)| specs[d].name.as_str()).collect();
        let _ = writeln!(
            out,
            "[project]\nname = \"{}\"\nversion = \"0.1.{i}\"\ndependencies = {required:?}",
            s.name
        );
        let optional: Vec<&str> =
            s.deps.iter().filter(|d| d.1).map(|&(d, _)| specs[d].name.as_str()).collect();
        if !optional.is_empty() {
            let _ = writeln!(out, "\n[project.optional-dependencies]\nfull = {optional:?}");
        }
        let _ = writeln!(out, "\n[tool.poetry]\npackages = [{{ include = \"{module}\" }}]\n\n[tool.poetry.dependencies]");
        for &(d, _) in &s.deps {
            let _ = writeln!(
                out,
                "\"{}\" = {{ path = \"{}\", develop = true }}",
                specs[d].name,
                rel(d)
            );
        }
    }
    out += "\n[build-system]\nrequires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n";
    out
}

pub fn run(args: &GenRepoArgs) -> Result<()> {
    let out = &args.out;
    if out.exists() && out.read_dir().with_context(|| format!("read {out}"))?.next().is_some() {
        bail!("{out} exists and is not empty; pass a new folder to --out");
    }
    let specs = plan(args);
    for i in 0..specs.len() {
        write_package(out, &specs, i)?;
    }
    println!("wrote {} libs and {} projects to {out}", args.libs, args.projects);
    Ok(())
}

fn write_package(out: &Utf8Path, specs: &[Spec], i: usize) -> Result<()> {
    let dir = out.join(&specs[i].dir);
    let module = specs[i].name.replace(['.', '-'], "_");
    fs_err::create_dir_all(dir.join(&module))?;
    fs_err::write(dir.join("pyproject.toml"), manifest(specs, i))
        .with_context(|| format!("write {dir}/pyproject.toml"))?;
    fs_err::write(dir.join(&module).join("__init__.py"), format!("NAME = {:?}\n", specs[i].name))
        .with_context(|| format!("write {dir}/{module}/__init__.py"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::{Discovered, Graph};
    use crate::model::manifest::parse_manifest;

    #[test]
    fn generated_manifests_parse_into_an_acyclic_graph() {
        let args = GenRepoArgs { out: "unused".into(), libs: 60, projects: 20, depth: 5, seed: 7 };
        let specs = plan(&args);
        let discovered = (0..specs.len())
            .map(|i| Discovered {
                dir: specs[i].dir.clone(),
                manifest: parse_manifest(&manifest(&specs, i)),
                dockerfile: false,
            })
            .collect();
        let g = Graph::build(
            "/r",
            discovered,
            Some(&|d: &str| d.starts_with("projects/")),
            &|_: &str| unreachable!(),
        );
        assert!(g.problems().is_empty(), "{:?}", g.problems());
        assert_eq!(g.packages.len(), 80);
        assert!(g.edges.len() >= 60, "{} edges", g.edges.len());
    }
}
