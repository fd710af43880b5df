//! Adjacency and topological order of a package subgraph (dependencies first).

use std::collections::{BTreeMap, BTreeSet};

pub(super) fn adjacency(
    nodes: &BTreeSet<usize>,
    edges: &[(usize, usize)],
) -> BTreeMap<usize, Vec<usize>> {
    let mut adj: BTreeMap<usize, Vec<usize>> = nodes.iter().map(|&n| (n, Vec::new())).collect();
    for &(a, b) in edges {
        if nodes.contains(&a) && nodes.contains(&b) {
            if let Some(v) = adj.get_mut(&a) {
                v.push(b);
            }
        }
    }
    for v in adj.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    adj
}

/// Dependencies first; ties broken by package order (sorted by folder). Nodes on a cycle
/// come last, in folder order, so callers still get every node.
pub(super) fn topological(nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> Vec<usize> {
    let adj = adjacency(nodes, edges);
    let mut pending: BTreeMap<usize, usize> =
        adj.iter().map(|(&n, deps)| (n, deps.len())).collect();
    let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (&n, deps) in &adj {
        for &d in deps {
            dependents.entry(d).or_default().push(n);
        }
    }
    let mut ready: BTreeSet<usize> =
        pending.iter().filter(|(_, &c)| c == 0).map(|(&n, _)| n).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(n) = ready.pop_first() {
        order.push(n);
        pending.remove(&n);
        for &m in dependents.get(&n).into_iter().flatten() {
            if let Some(c) = pending.get_mut(&m) {
                *c -= 1;
                if *c == 0 {
                    ready.insert(m);
                }
            }
        }
    }
    order.extend(pending.keys());
    order
}
