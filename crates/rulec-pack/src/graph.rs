//! The rule DAG: dependency order and cycles.

use crate::Rule;
use rulec_diagnostics::{Diagnostic, codes};
use std::collections::{BTreeMap, BTreeSet};

/// Orders rules so that every rule comes after the rules it reads (ties broken by name),
/// and reports every reference cycle once, naming each rule in it. Rules in cycles (and
/// rules that depend on them) come last.
pub fn order_rules(rules: Vec<Rule>) -> (Vec<Rule>, Vec<Diagnostic>) {
    let names: BTreeSet<String> = rules.iter().map(|r| r.name.clone()).collect();
    let deps: BTreeMap<String, Vec<String>> = rules
        .iter()
        .map(|r| {
            let d = r
                .upstream_rules
                .iter()
                .filter(|d| names.contains(*d))
                .cloned()
                .collect();
            (r.name.clone(), d)
        })
        .collect();

    // Kahn's algorithm with a sorted ready set: deterministic.
    let mut remaining: BTreeMap<&str, usize> =
        deps.iter().map(|(n, d)| (n.as_str(), d.len())).collect();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, d) in &deps {
        for up in d {
            dependents.entry(up.as_str()).or_default().push(n.as_str());
        }
    }
    let mut ready: BTreeSet<&str> = remaining
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut order: Vec<String> = Vec::new();
    while let Some(next) = ready.pop_first() {
        order.push(next.to_owned());
        remaining.remove(next);
        for dependent in dependents.get(next).map(Vec::as_slice).unwrap_or_default() {
            if let Some(count) = remaining.get_mut(dependent) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }

    let mut diagnostics = Vec::new();
    let stuck: BTreeSet<String> = remaining.keys().map(|s| (*s).to_owned()).collect();
    let cycles = find_cycles(&deps, &stuck);
    let mut in_cycle: BTreeSet<String> = BTreeSet::new();
    for cycle in &cycles {
        in_cycle.extend(cycle.iter().cloned());
    }
    let by_name: BTreeMap<String, &Rule> = rules.iter().map(|r| (r.name.clone(), r)).collect();
    for cycle in cycles {
        let mut path = cycle.clone();
        path.push(cycle[0].clone());
        let first = by_name[&cycle[0]];
        let next = &cycle[1 % cycle.len()];
        let span = first
            .table_refs()
            .iter()
            .find(|r| &r.name == next)
            .and_then(|r| r.span);
        let mut d = Diagnostic::error(
            codes::RULE_CYCLE,
            format!("rules form a reference cycle: {}", path.join(" -> ")),
        )
        .in_file(first.file.clone())
        .at_opt(span)
        .with_help("a product cannot depend on itself; break the cycle by removing one reference");
        for name in &cycle[1..] {
            d = d.with_note(format!("`{name}` is defined in `{}`", by_name[name].file));
        }
        diagnostics.push(d);
    }

    // Stuck rules go last, in name order (they cannot be planned).
    order.extend(stuck.iter().cloned());
    let mut by_name: BTreeMap<String, Rule> =
        rules.into_iter().map(|r| (r.name.clone(), r)).collect();
    let ordered = order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .map(|mut r| {
            r.in_cycle = in_cycle.contains(&r.name);
            r
        })
        .collect();
    (ordered, diagnostics)
}

/// Every elementary cycle's strongly connected component among `stuck` rules, reported as
/// one cycle per component (rules in component order, starting at the smallest name).
fn find_cycles(deps: &BTreeMap<String, Vec<String>>, stuck: &BTreeSet<String>) -> Vec<Vec<String>> {
    // Tarjan's SCC over the stuck subgraph.
    struct State<'a> {
        deps: &'a BTreeMap<String, Vec<String>>,
        stuck: &'a BTreeSet<String>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        sccs: Vec<Vec<String>>,
    }
    fn visit(s: &mut State<'_>, v: &str) {
        s.index.insert(v.to_owned(), s.next);
        s.low.insert(v.to_owned(), s.next);
        s.next += 1;
        s.stack.push(v.to_owned());
        s.on_stack.insert(v.to_owned());
        let edges: Vec<String> = s.deps.get(v).cloned().unwrap_or_default();
        for w in edges.iter().filter(|w| s.stuck.contains(*w)) {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v.to_owned(), lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v.to_owned(), lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == v;
                scc.push(w);
                if done {
                    break;
                }
            }
            let self_loop = s.deps.get(v).is_some_and(|d| d.iter().any(|x| x == v));
            if scc.len() > 1 || self_loop {
                s.sccs.push(scc);
            }
        }
    }
    let mut state = State {
        deps,
        stuck,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for v in stuck {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    // Order each component as a walk along dependency edges from its smallest name.
    state
        .sccs
        .into_iter()
        .map(|scc| {
            let members: BTreeSet<String> = scc.into_iter().collect();
            let start = members.first().cloned().unwrap_or_default();
            let mut walk = vec![start.clone()];
            let mut seen: BTreeSet<String> = BTreeSet::from([start.clone()]);
            let mut current = start;
            loop {
                let next = deps[&current]
                    .iter()
                    .find(|d| members.contains(*d) && !seen.contains(*d))
                    .cloned();
                match next {
                    Some(n) => {
                        seen.insert(n.clone());
                        walk.push(n.clone());
                        current = n;
                    }
                    None => break,
                }
            }
            // Members not on the simple walk are still in the cycle: name them too.
            for m in &members {
                if !seen.contains(m) {
                    walk.push(m.clone());
                }
            }
            walk
        })
        .collect()
}
