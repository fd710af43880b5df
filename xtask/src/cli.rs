//! Command-line interface: every command, its flags and their help, in one place.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};

/// Environment variables, for `--help`.
const ENVIRONMENT: &str = "\
Environment:
  DOCKER             the engine's CLI (docker, podman, /usr/bin/docker); default: docker
  DOCKER_BUILDKIT=1  build project Dockerfiles with BuildKit where the engine has it
  DOCKER_HOST        the engine to talk to (as docker reads it)
  XTASK_CACHE_DIR    the cache (wheels, layers, the wheelhouse); default: target/xtask/cache
  XTASK_REPO         the monorepo (as --repo)
  XTASK_REGISTRY     the registry images go to (as --registry)
  XTASK_TAG          the image tag (as --tag)
  XTASK_SINCE        the revision `ci` compares with (as --since)
  XTASK_DEFAULT_BRANCH  the branch `ci` also tags `latest` (as --default-branch)
  XTASK_TRACE=1      finer timings on stderr
  SOURCE_DATE_EPOCH  the images' creation time (default: the commit's)
  PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_CERT, pip.conf, ~/.netrc
                     the package index, its CA bundle and credentials, as pip reads them";

/// Turns a Python monorepo into minimal, reproducible container images.
#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    version,
    propagate_version = true,
    after_help = ENVIRONMENT
)]
pub struct Cli {
    /// Root of the monorepo to work on (default: the repo this xtask lives in).
    #[arg(long, global = true, env = "XTASK_REPO", value_name = "DIR")]
    pub repo: Option<Utf8PathBuf>,
    /// Also show the engine's own output (build steps, container output).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show errors and results only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// More Pythons to provide `python:<X.Y>-slim` for (3.9, 3.11 and 3.13 have Debian stand-ins).
    #[arg(long, value_delimiter = ',', value_name = "X.Y")]
    pub python: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a project's image: wheels only, a minimal context, layered; a no-op when nothing changed.
    #[command(
        after_help = "Example:\n  cargo xtask build-image clients\n  cargo xtask build-image --all --tag 1.2.0 --registry ghcr.io/acme --push"
    )]
    BuildImage(BuildImageArgs),
    /// Run a project's dev environment with its and its libraries' sources mounted live.
    #[command(after_help = "Example:\n  cargo xtask dev clients -- pytest")]
    Dev(DevArgs),
    /// Rewrite a project's standalone Dockerfile into an extension of its image (`FROM app`).
    #[command(after_help = "Example:\n  cargo xtask adopt apps/web --write")]
    Adopt(AdoptArgs),
    /// Bring up what builds need on a bare machine: docker.io, a running engine, Python images.
    #[command(after_help = "Example:\n  cargo xtask up --python 3.9,3.13")]
    Up(UpArgs),
    /// List the projects a change touches (files changed since a revision), with reasons.
    #[command(after_help = "Example:\n  cargo xtask affected --since origin/main --json")]
    Affected(AffectedArgs),
    /// CI: build (and push) the images of the affected projects, or print the build matrix.
    #[command(after_help = "Example:\n  cargo xtask ci --since registry --matrix")]
    Ci(CiArgs),
    /// List every package of the monorepo: path, name, version and kind.
    #[command(after_help = "Example:\n  cargo xtask --repo ../other-repo list")]
    List(ListArgs),
    /// Show the local dependency graph, or one package's closure in build order.
    #[command(after_help = "Example:\n  cargo xtask graph clients --json")]
    Graph(GraphArgs),
    /// Download a project's locked third-party wheels into the shared wheelhouse (network).
    #[command(after_help = "Example:\n  cargo xtask fetch clients")]
    Fetch(FetchArgs),
    /// Build installable wheels of every local package a project needs (cached, offline).
    #[command(after_help = "Example:\n  cargo xtask wheels clients --out dist/")]
    Wheels(WheelsArgs),
    /// Lock packages with their tool (the pinned Poetry or uv), or the build toolchain (network).
    #[command(after_help = "Example:\n  cargo xtask lock --toolchain")]
    Lock(LockArgs),
    /// Run every test: what CI runs (`.ci/run`). Brings up the engine and base image first.
    #[command(after_help = "Example:\n  cargo xtask test")]
    Test,
    /// Run a committed benchmark and print its figures against the goals.
    #[command(after_help = "Example:\n  cargo xtask bench images")]
    Bench(BenchArgs),
    /// Generate a synthetic monorepo (libs, projects, dependency depth) for benchmarks.
    #[command(
        after_help = "Example:\n  cargo xtask gen-repo --out /tmp/synth --libs 800 --projects 200"
    )]
    GenRepo(GenRepoArgs),
}

impl Command {
    /// Whether the command prints JSON on stdout (progress lines then go to stderr).
    pub fn json(&self) -> bool {
        match self {
            Command::BuildImage(a) => a.json,
            Command::Affected(a) => a.json,
            Command::Ci(a) => a.json || a.matrix,
            Command::List(a) => a.json,
            Command::Graph(a) => a.json,
            Command::Fetch(a) => a.json,
            Command::Wheels(a) => a.json,
            _ => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON: {"packages":[…],"errors":[…]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The project: repo-relative path, name, or normalised name.
    pub project: String,
    /// The Dockerfile to adopt (repo-relative; default: the project's own Dockerfile).
    #[arg(long)]
    pub dockerfile: Option<String>,
    /// Write the project's Dockerfile (and docker/images.toml) instead of showing the diff.
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// A package: repo-relative path, name, or normalised name. Omit for the whole repo.
    pub package: Option<String>,
    /// Extras to request of the package (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "package")]
    pub extras: Vec<String>,
    /// Print JSON: packages, edges, errors (and the closure with a package).
    #[arg(long, conflicts_with = "dot")]
    pub json: bool,
    /// Print Graphviz DOT.
    #[arg(long)]
    pub dot: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The project (path or name).
    pub project: String,
    /// Print JSON: {"project","requirements","wheels":[{"name","version","file","sha256","cached"}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AffectedArgs {
    /// Compare HEAD with the merge base of this revision (branch, tag or commit).
    #[arg(long, env = "XTASK_SINCE")]
    pub since: String,
    /// Count uncommitted and untracked files too.
    #[arg(long)]
    pub dirty: bool,
    /// Print JSON: {"affected":[{"project","path","reasons":[{"changed","chain"}]}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Build only what changed since this revision (default: every project); `registry`:
    /// each project since the commit its `latest` image in the registry was built from.
    #[arg(long, env = "XTASK_SINCE")]
    pub since: Option<String>,
    /// Build these projects (paths or names) instead of computing the affected ones.
    #[arg(long = "project", conflicts_with = "since")]
    pub projects: Vec<String>,
    /// Print a GitHub Actions matrix of the affected projects and stop.
    #[arg(long)]
    pub matrix: bool,
    /// Push the images (needs --registry).
    #[arg(long)]
    pub push: bool,
    /// Registry host[:port][/namespace] the images are named and pushed under.
    #[arg(long, env = "XTASK_REGISTRY")]
    pub registry: Option<String>,
    /// Branch whose builds are also tagged `latest` (default: main or master).
    #[arg(long, env = "XTASK_DEFAULT_BRANCH")]
    pub default_branch: Option<String>,
    /// Print JSON: the images built, as `build-image --json`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WheelsArgs {
    /// The project (path or name).
    pub project: String,
    /// Also copy the wheels into this folder.
    #[arg(long)]
    pub out: Option<Utf8PathBuf>,
    /// Print JSON: {"wheels":[{"package","path","file","sha256","cached"}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildImageArgs {
    /// Projects to build (paths or names).
    #[arg(conflicts_with = "all")]
    pub projects: Vec<String>,
    /// Build every project of the repo.
    #[arg(long)]
    pub all: bool,
    /// Image tag.
    #[arg(long, default_value = "latest", env = "XTASK_TAG")]
    pub tag: String,
    /// Print the plan (wheels to build or reuse, context, engine commands) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Build even when the image is up to date, without the engine's layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print JSON: {"images":[{"project","image","id","size","base_size","layers","context_bytes","status","digest","sbom"}]};
    /// on failure {"error":{"message","path"}}.
    #[arg(long)]
    pub json: bool,
    /// Push the images after building them (needs --registry).
    #[arg(long)]
    pub push: bool,
    /// Registry host[:port][/namespace] the images are named and pushed under.
    #[arg(long, env = "XTASK_REGISTRY")]
    pub registry: Option<String>,
    /// Who writes the image: `xtask` assembles its layers itself (reproducible, the default),
    /// `engine` builds docker/project.Dockerfile with the engine.
    #[arg(long, value_enum, default_value = "xtask")]
    pub builder: Builder,
    /// Also write each image into this OCI image layout folder (with its SBOM beside it).
    #[arg(long, value_name = "DIR")]
    pub oci: Option<Utf8PathBuf>,
    /// Build for these platforms (`linux/amd64,linux/arm64`): an image index, each platform's
    /// base read from the runtime image's index in its registry; needs --oci or --push.
    #[arg(long, value_name = "LIST")]
    pub platform: Option<String>,
}

/// Who writes an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Builder {
    /// xtask assembles the layers and the config itself.
    #[default]
    Xtask,
    /// The engine builds docker/project.Dockerfile.
    Engine,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// The project (path or name).
    pub project: String,
    /// Command to run (after `--`); without one, an interactive shell.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Packages to lock (paths or names).
    #[arg(conflicts_with = "all")]
    pub packages: Vec<String>,
    /// Lock every lib and project of the repo.
    #[arg(long)]
    pub all: bool,
    /// Also pin every file of the build toolchain by hash, in docker/toolchain.lock.
    #[arg(long)]
    pub toolchain: bool,
}

#[derive(Debug, Args)]
pub struct GenRepoArgs {
    /// Folder to create (must not exist or be empty).
    #[arg(long)]
    pub out: Utf8PathBuf,
    /// Number of libraries.
    #[arg(long, default_value_t = 800)]
    pub libs: usize,
    /// Number of projects.
    #[arg(long, default_value_t = 200)]
    pub projects: usize,
    /// Layers of libraries: a lib depends on libs of the layer below.
    #[arg(long, default_value_t = 8)]
    pub depth: usize,
    /// Seed of the pseudo-random dependency choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// `graph --json` on a generated repo, release binary: median of repeated runs.
    Graph {
        /// Packages in the generated repo (libs and projects).
        #[arg(long, default_value_t = 1000)]
        packages: usize,
        /// Timed runs.
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// `wheels projects/gw-iaas/clients`: cold, warm, and after editing one lib file.
    Wheels {
        /// Timed warm runs.
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// `affected` on the sample repo and on 1,000 packages with 10,000 changed files.
    Affected {
        /// Timed runs.
        #[arg(long, default_value_t = 11)]
        runs: usize,
    },
    /// `fetch` of a 40-package lock (xtask/test_data/bench/fetch40), cold and warm, next to
    /// `pip download` of the same pins.
    Fetch {
        /// Timed warm runs.
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// `build-image` against a status-quo and a hand-written Dockerfile, on the sample export
    /// project and a generated gw-iaas-shaped repo: size, context, cold, edit, no-op.
    Images {
        /// Timed no-op runs.
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
