//! One run of xtask: the shell, the repo and its config (loaded once), the engine (connected
//! once, on first use), the toolchain lock and the build images (made once), and the output.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::Config;
use crate::engine::Engine;
use crate::model::{self, Repo};
use crate::net::{Client, Settings};
use crate::pipeline::probe;
use crate::pipeline::shared::Shared;
use crate::pipeline::toolchain::{self, Toolchain};
use crate::runtime::Runtime;
use crate::ui::Ui;

/// Made once in `main` and handed to every command.
pub struct Session {
    pub sh: Shell,
    pub ui: Ui,
    root: Utf8PathBuf,
    config: OnceCell<Config>,
    repo: OnceCell<Repo>,
    engine: OnceCell<Engine>,
    toolchain: OnceCell<Toolchain>,
    build_images: RefCell<BTreeMap<u32, String>>,
    runtimes: RefCell<BTreeMap<String, Runtime>>,
    net: OnceCell<Client>,
    shared: OnceCell<Option<Shared>>,
    /// Image references announced before the engine was connected (see `expect_image`).
    expected: RefCell<Vec<String>>,
}

/// `cell`'s value, computed by `make` the first time.
fn once<T>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T>) -> Result<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

impl Session {
    /// A session on the monorepo at `root`; nothing is read until a command asks.
    pub fn new(root: Utf8PathBuf, ui: Ui) -> Result<Session> {
        Ok(Session {
            sh: Shell::new()?,
            ui,
            root,
            config: OnceCell::new(),
            repo: OnceCell::new(),
            engine: OnceCell::new(),
            toolchain: OnceCell::new(),
            build_images: RefCell::new(BTreeMap::new()),
            runtimes: RefCell::new(BTreeMap::new()),
            net: OnceCell::new(),
            shared: OnceCell::new(),
            expected: RefCell::new(Vec::new()),
        })
    }

    /// The monorepo's root as given (`--repo`) or this xtask's own repo.
    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    /// The repo: config, every manifest and the package graph, loaded on first use.
    pub fn repo(&self) -> Result<&Repo> {
        let repo = once(&self.repo, || model::load(&self.root))?;
        if let Some(engine) = self.engine.get() {
            engine.register_in(repo.runs());
        }
        Ok(repo)
    }

    /// The config alone, for commands that need no package graph (`up`).
    pub fn config(&self) -> Result<&Config> {
        if let Some(repo) = self.repo.get() {
            return Ok(&repo.config);
        }
        once(&self.config, || crate::config::load(&self.root))
    }

    /// The engine, connected on first use: runs that need none never touch it.
    pub fn engine(&self) -> Result<&Engine> {
        once(&self.engine, || {
            let engine = Engine::connect(&self.sh)?;
            if let Some(repo) = self.repo.get() {
                engine.register_in(repo.runs());
            }
            for reference in self.expected.take() {
                engine.expect(&reference);
            }
            Ok(engine)
        })
    }

    /// Announces an image the run will inspect, so that it rides along with the engine's first
    /// inspect call ([`Engine::expect`]); connects nothing.
    pub fn expect_image(&self, reference: &str) {
        match self.engine.get() {
            Some(engine) => engine.expect(reference),
            None => self.expected.borrow_mut().push(reference.to_string()),
        }
    }

    /// Uses the registry `registry` as a shared cache when the config opts in (set once).
    pub fn share_through(&self, registry: Option<&str>) {
        let enabled = self.config().is_ok_and(|c| c.cache.registry);
        let _ = self.shared.set(registry.filter(|_| enabled).and_then(Shared::new));
    }

    /// The shared cache, when this run uses one.
    pub fn shared(&self) -> Option<&Shared> {
        self.shared.get().and_then(Option::as_ref)
    }

    /// The HTTPS client, with the host's index settings, made on first use.
    pub fn net(&self) -> Result<&Client> {
        once(&self.net, || Client::new(Settings::from_host()))
    }

    /// The toolchain lock: the repo's, or the cache's for a repo without one.
    pub fn toolchain(&self) -> Result<&Toolchain> {
        once(&self.toolchain, || Toolchain::load(self.repo()?))
    }

    /// What the Python of a runtime image is: read from the image once per image id (see
    /// [`probe`]), checked against the config's `[runtime]`, and kept for this run.
    pub fn runtime(&self, image: &str) -> Result<Runtime> {
        if let Some(r) = self.runtimes.borrow().get(image) {
            return Ok(r.clone());
        }
        let r = probe::of(&self.sh, self.engine()?, self.repo()?, image)?;
        self.runtimes.borrow_mut().insert(image.to_string(), r.clone());
        Ok(r)
    }

    /// The tag of the build image of Python 3.`minor`, built on first use when the engine
    /// lacks it.
    pub fn build_image(&self, minor: u32) -> Result<String> {
        if let Some(tag) = self.build_images.borrow().get(&minor) {
            return Ok(tag.clone());
        }
        let tag = toolchain::ensure_build_image(self, minor)?;
        self.build_images.borrow_mut().insert(minor, tag.clone());
        Ok(tag)
    }
}

impl Drop for Session {
    /// A run that ends (with success or an error, not a kill) unregisters: see `runs::finish`.
    fn drop(&mut self) {
        crate::runs::finish();
    }
}
