//! Problems of a set of packages as a whole: two packages with one name, dependency cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::order::adjacency;
use super::{Graph, PackageName, Problem};
use crate::model::paths::manifest_of;

impl Graph {
    pub(super) fn duplicate_names(&self, nodes: impl Iterator<Item = usize>) -> Vec<Problem> {
        let mut by_name: BTreeMap<&PackageName, Vec<&str>> = BTreeMap::new();
        for i in nodes {
            by_name.entry(&self.packages[i].name).or_default().push(&self.packages[i].dir);
        }
        by_name
            .into_iter()
            .filter(|(_, dirs)| dirs.len() > 1)
            .map(|(name, dirs)| Problem {
                path: manifest_of(dirs[1]),
                message: format!(
                    "two packages named {name:?} in one closure: {}; rename one ([project] name or [tool.poetry] name)",
                    dirs.join(" and ")
                ),
                fatal: true,
            })
            .collect()
    }

    /// One problem per dependency cycle among `nodes`.
    pub(super) fn cycles(&self, nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> Vec<Problem> {
        let adj = adjacency(nodes, edges);
        let mut state: BTreeMap<usize, u8> = BTreeMap::new(); // 1 = on the stack, 2 = done
        let mut found: Vec<Vec<usize>> = Vec::new();
        for &start in nodes {
            if state.contains_key(&start) {
                continue;
            }
            // Iterative DFS keeps deep synthetic graphs off the call stack.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state.insert(start, 1);
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&to) = adj[&node].get(*next) {
                    *next += 1;
                    match state.get(&to) {
                        None => {
                            state.insert(to, 1);
                            stack.push((to, 0));
                        }
                        Some(1) => {
                            let pos = stack.iter().position(|&(n, _)| n == to).unwrap_or(0);
                            found.push(stack[pos..].iter().map(|&(n, _)| n).collect());
                        }
                        _ => {}
                    }
                } else {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
        found
            .into_iter()
            .map(|cycle| {
                let mut names: Vec<String> = cycle.iter().map(|&i| self.label(i)).collect();
                names.push(self.label(cycle[0]));
                Problem {
                    path: self.packages[cycle[0]].manifest_path(),
                    message: format!(
                        "dependency cycle: {}; remove one of these path dependencies",
                        names.join(" -> ")
                    ),
                    fatal: true,
                }
            })
            .collect()
    }

    fn label(&self, i: usize) -> String {
        format!("{} ({})", self.packages[i].name, self.packages[i].dir)
    }
}
