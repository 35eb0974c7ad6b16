//! The structural checker: a guest's decoded WIT against the host's, under
//! the linker's rules (structural types in which field, case and flag names
//! count but parameter names don't; resources by the interface that defines
//! them; interface versions by wasmtime's semver rule).

use std::collections::BTreeSet;

use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldId, WorldItem, WorldKey,
};

use super::print::func_text;
use crate::report::Problem;

/// The host's WIT on one side, the guest's (decoded) on the other.
pub(crate) struct Compare<'a> {
    pub(crate) host: &'a Resolve,
    /// The world the host provides: what it links as imports, what it calls
    /// as exports.
    pub(crate) host_world: WorldId,
    pub(crate) guest: &'a Resolve,
}

impl Compare<'_> {
    /// What of the guest's world `guest` does not fit the host's world.
    pub(crate) fn world(&self, guest: WorldId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let gw = &self.guest.worlds[guest];
        for (key, item) in &gw.imports {
            let name = self.guest.name_world_key(key);
            match item {
                WorldItem::Interface { id, .. } if matches!(key, WorldKey::Interface(_)) => {
                    problems.extend(self.import(*id))
                }
                WorldItem::Interface { .. } => problems.push(Problem {
                    item: format!("import {name}"),
                    expected: format!(
                        "interfaces with package names (the host provides no `{name}`)"
                    ),
                    found: "an interface of the component's own".to_string(),
                }),
                WorldItem::Function(f) => problems.push(Problem {
                    item: format!("import {name}"),
                    expected: format!(
                        "functions only inside interfaces (the host provides no `{name}`)"
                    ),
                    found: format!("`{}`", func_text(self.guest, f, false)),
                }),
                // A `use` of an interface's type; or a type of the world's
                // own, which the host cannot provide.
                WorldItem::Type { id, .. } => {
                    if !matches!(self.guest.types[*id].kind, TypeDefKind::Type(_)) {
                        problems.push(Problem {
                            item: format!("import {name}"),
                            expected: format!(
                                "types only inside interfaces (the host provides no `{name}`)"
                            ),
                            found: format!("a {}", self.guest.types[*id].kind.as_str()),
                        })
                    }
                }
            }
        }
        problems.extend(self.exports(guest));
        problems
    }

    /// What the host calls that the guest's world `guest` does not export
    /// with the host world's type.
    pub(crate) fn exports(&self, guest: WorldId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let (hw, gw) = (
            &self.host.worlds[self.host_world],
            &self.guest.worlds[guest],
        );
        for (key, item) in &hw.exports {
            let (WorldKey::Name(name), WorldItem::Function(want)) = (key, item) else {
                continue;
            };
            let item_name = format!("export {name}");
            let expected = format!("`{}`", func_text(self.host, want, false));
            match gw.exports.get(key) {
                Some(WorldItem::Function(have)) => {
                    if let Some(p) = self.function(item_name, want, have) {
                        problems.push(p)
                    }
                }
                Some(WorldItem::Interface { .. }) => problems.push(Problem {
                    item: item_name,
                    expected,
                    found: "an interface".to_string(),
                }),
                Some(WorldItem::Type { .. }) => problems.push(Problem {
                    item: item_name,
                    expected,
                    found: "a type".to_string(),
                }),
                None => {
                    let others: Vec<String> = gw
                        .exports
                        .keys()
                        .map(|k| format!("`{}`", self.guest.name_world_key(k)))
                        .collect();
                    let found = if others.is_empty() {
                        "nothing: the component exports nothing".to_string()
                    } else {
                        format!("nothing: the component exports {}", others.join(", "))
                    };
                    problems.push(Problem {
                        item: item_name,
                        expected,
                        found,
                    })
                }
            }
        }
        problems
    }

    /// What of the guest's imported interface `id` the host lacks: the
    /// interface itself, or its resources and functions.
    pub(crate) fn import(&self, id: InterfaceId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let name = self.guest.id_of(id).unwrap_or_default();
        let item = format!("import {name}");
        let host = match self.host_interface(id) {
            Ok(host) => host,
            Err((expected, found)) => {
                return vec![Problem {
                    item,
                    expected,
                    found,
                }];
            }
        };
        let (hi, gi) = (&self.host.interfaces[host], &self.guest.interfaces[id]);
        let host_name = self.host.id_of(host).unwrap_or_default();
        for (ty_name, &ty) in &gi.types {
            if !matches!(self.guest.types[ty].kind, TypeDefKind::Resource) {
                continue;
            }
            let matching = hi
                .types
                .get(ty_name)
                .is_some_and(|&h| self.same_resource(h, ty));
            if !matching {
                problems.push(Problem {
                    item: format!("{item}, resource {ty_name}"),
                    expected: format!(
                        "no such resource: the host's `{host_name}` has {}",
                        listed(
                            hi.types
                                .iter()
                                .filter(|&(_, &t)| {
                                    matches!(self.host.types[t].kind, TypeDefKind::Resource)
                                })
                                .map(|(n, _)| format!("`{n}`"))
                        )
                    ),
                    found: format!("resource `{ty_name}`"),
                });
            }
        }
        for (f_name, have) in &gi.functions {
            let f_item = format!("{item}, {}", func_name(self.guest, have));
            match hi.functions.get(f_name) {
                Some(want) => {
                    if let Some(p) = self.function(f_item, want, have) {
                        problems.push(p)
                    }
                }
                None => problems.push(Problem {
                    item: f_item,
                    expected: format!(
                        "no such function: the host's `{host_name}` has {}",
                        listed(
                            hi.functions
                                .values()
                                .map(|f| format!("`{}`", func_name(self.host, f)))
                        )
                    ),
                    found: format!("`{}`", func_text(self.guest, have, false)),
                }),
            }
        }
        problems
    }

    /// The host's interface for the guest's `id`: same namespace, package
    /// and name, a compatible version; or what to say instead.
    fn host_interface(&self, id: InterfaceId) -> Result<InterfaceId, (String, String)> {
        let gi = &self.guest.interfaces[id];
        let gp = &self.guest.packages[gi.package.expect("a named interface has a package")].name;
        let gname = gi.name.as_deref().unwrap_or_default();
        let provided = self.provided();
        let same_name: Vec<InterfaceId> = provided
            .iter()
            .copied()
            .filter(|&h| {
                let hi = &self.host.interfaces[h];
                let hp = &self.host.packages[hi.package.unwrap()].name;
                hp.namespace == gp.namespace
                    && hp.name == gp.name
                    && hi.name.as_deref() == Some(gname)
            })
            .collect();
        if let Some(&host) = same_name.iter().find(|&&h| {
            let hp = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
            compatible(hp.version.as_ref(), gp.version.as_ref())
        }) {
            return Ok(host);
        }
        let found_version = gp
            .version
            .as_ref()
            .map_or("no version".to_string(), |v| format!("version {v}"));
        if !same_name.is_empty() {
            let versions = listed(
                same_name
                    .iter()
                    .map(|&h| format!("`{}`", self.host.id_of(h).unwrap_or_default())),
            );
            return Err((
                format!("a version compatible with {versions}"),
                found_version,
            ));
        }
        let same_package: BTreeSet<String> = provided
            .iter()
            .filter(|&&h| {
                let hp = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
                hp.namespace == gp.namespace && hp.name == gp.name
            })
            .map(|&h| format!("`{}`", self.host.id_of(h).unwrap_or_default()))
            .collect();
        let expected = if same_package.is_empty() {
            let packages: BTreeSet<String> = provided
                .iter()
                .map(|&h| {
                    let p = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
                    format!("`{p}`")
                })
                .collect();
            format!(
                "an interface the host provides, from {}",
                listed(packages.into_iter())
            )
        } else {
            format!(
                "an interface the host provides: {}",
                listed(same_package.into_iter())
            )
        };
        Err((
            expected,
            "an interface the host does not provide".to_string(),
        ))
    }

    /// The interfaces the host world imports.
    fn provided(&self) -> Vec<InterfaceId> {
        self.host.worlds[self.host_world]
            .imports
            .iter()
            .filter_map(|(key, item)| match (key, item) {
                (WorldKey::Interface(_), WorldItem::Interface { id, .. }) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// `None` when `have` has the type of `want`; else the problem.
    pub(crate) fn function(
        &self,
        item: String,
        want: &Function,
        have: &Function,
    ) -> Option<Problem> {
        if self.same_function(want, have) {
            return None;
        }
        let (mut expected, mut found) = (
            func_text(self.host, want, false),
            func_text(self.guest, have, false),
        );
        if expected == found {
            // Same names, different types: spell the types out, and say
            // which interface each resource comes from.
            expected = func_text(self.host, want, true);
            found = func_text(self.guest, have, true);
        }
        Some(Problem {
            item,
            expected: format!("`{expected}`"),
            found: format!("`{found}`"),
        })
    }

    fn same_function(&self, want: &Function, have: &Function) -> bool {
        is_async(&want.kind) == is_async(&have.kind)
            && want.params.len() == have.params.len()
            && want
                .params
                .iter()
                .zip(&have.params)
                .all(|(w, h)| self.same_type(w.ty, h.ty))
            && self.same_opt(want.result, have.result)
    }

    fn same_opt(&self, want: Option<Type>, have: Option<Type>) -> bool {
        match (want, have) {
            (None, None) => true,
            (Some(w), Some(h)) => self.same_type(w, h),
            _ => false,
        }
    }

    fn same_type(&self, want: Type, have: Type) -> bool {
        match (dealias(self.host, want), dealias(self.guest, have)) {
            (Type::Id(w), Type::Id(h)) => self.same_def(w, h),
            (Type::Id(_), _) | (_, Type::Id(_)) => false,
            (w, h) => w == h,
        }
    }

    fn same_def(&self, want: TypeId, have: TypeId) -> bool {
        use TypeDefKind as K;
        let types = |a: &[Type], b: &[Type]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| self.same_type(*x, *y))
        };
        match (&self.host.types[want].kind, &self.guest.types[have].kind) {
            (K::Record(w), K::Record(h)) => {
                w.fields.len() == h.fields.len()
                    && w.fields
                        .iter()
                        .zip(&h.fields)
                        .all(|(w, h)| w.name == h.name && self.same_type(w.ty, h.ty))
            }
            (K::Resource, K::Resource) => self.same_resource(want, have),
            (K::Handle(Handle::Own(w)), K::Handle(Handle::Own(h)))
            | (K::Handle(Handle::Borrow(w)), K::Handle(Handle::Borrow(h))) => {
                self.same_resource(*w, *h)
            }
            (K::Flags(w), K::Flags(h)) => {
                w.flags.len() == h.flags.len()
                    && w.flags.iter().zip(&h.flags).all(|(w, h)| w.name == h.name)
            }
            (K::Tuple(w), K::Tuple(h)) => types(&w.types, &h.types),
            (K::Variant(w), K::Variant(h)) => {
                w.cases.len() == h.cases.len()
                    && w.cases
                        .iter()
                        .zip(&h.cases)
                        .all(|(w, h)| w.name == h.name && self.same_opt(w.ty, h.ty))
            }
            (K::Enum(w), K::Enum(h)) => {
                w.cases.len() == h.cases.len()
                    && w.cases.iter().zip(&h.cases).all(|(w, h)| w.name == h.name)
            }
            (K::Option(w), K::Option(h)) | (K::List(w), K::List(h)) => self.same_type(*w, *h),
            (K::Result(w), K::Result(h)) => {
                self.same_opt(w.ok, h.ok) && self.same_opt(w.err, h.err)
            }
            (K::Map(wk, wv), K::Map(hk, hv)) => {
                self.same_type(*wk, *hk) && self.same_type(*wv, *hv)
            }
            (K::FixedLengthList(w, wn), K::FixedLengthList(h, hn)) => {
                wn == hn && self.same_type(*w, *h)
            }
            (K::Future(w), K::Future(h)) | (K::Stream(w), K::Stream(h)) => self.same_opt(*w, *h),
            (K::Type(_), _) | (_, K::Type(_)) => self.same_type(Type::Id(want), Type::Id(have)),
            _ => false,
        }
    }

    /// Resources are nominal: the same name in the same interface (by name,
    /// with a compatible version), as the linker looks them up.
    fn same_resource(&self, want: TypeId, have: TypeId) -> bool {
        match (
            resource_origin(self.host, want),
            resource_origin(self.guest, have),
        ) {
            (Some((wi, wn)), Some((hi, hn))) => {
                let (wi, hi) = (&self.host.interfaces[wi], &self.guest.interfaces[hi]);
                let (Some(wp), Some(hp)) = (wi.package, hi.package) else {
                    return false;
                };
                let (wp, hp) = (&self.host.packages[wp].name, &self.guest.packages[hp].name);
                wn == hn
                    && wi.name == hi.name
                    && wp.namespace == hp.namespace
                    && wp.name == hp.name
                    && compatible(wp.version.as_ref(), hp.version.as_ref())
            }
            _ => false,
        }
    }
}

/// Whether the linker finds an item of version `host` under `guest`: equal,
/// or on the same semver track (wasmtime's `alternate_lookup_key`: same
/// major, or `0.minor` for `0.x`; nothing matches `0.0.x` or a prerelease
/// but itself).
fn compatible(host: Option<&semver::Version>, guest: Option<&semver::Version>) -> bool {
    fn track(v: &semver::Version) -> Option<(u64, u64)> {
        if !v.pre.is_empty() {
            None
        } else if v.major != 0 {
            Some((v.major, 0))
        } else if v.minor != 0 {
            Some((0, v.minor))
        } else {
            None
        }
    }
    match (host, guest) {
        (None, None) => true,
        (Some(h), Some(g)) => h == g || track(h).is_some_and(|t| Some(t) == track(g)),
        _ => false,
    }
}

pub(super) fn is_async(kind: &FunctionKind) -> bool {
    matches!(
        kind,
        FunctionKind::AsyncFreestanding
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::AsyncStatic(_)
    )
}

/// Follows `type a = b` to what `b` is.
fn dealias(resolve: &Resolve, mut ty: Type) -> Type {
    while let Type::Id(id) = ty {
        match resolve.types[id].kind {
            TypeDefKind::Type(inner) => ty = inner,
            _ => break,
        }
    }
    ty
}

/// The interface that defines resource `id`, and its name there.
fn resource_origin(resolve: &Resolve, id: TypeId) -> Option<(InterfaceId, &str)> {
    let Type::Id(id) = dealias(resolve, Type::Id(id)) else {
        return None;
    };
    let def = &resolve.types[id];
    match (&def.kind, def.owner, &def.name) {
        (TypeDefKind::Resource, TypeOwner::Interface(i), Some(name)) => Some((i, name)),
        _ => None,
    }
}

/// `a`, `a and b`, `a, b and c`; `nothing` for none.
fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A function as a WIT author names it: `read`, `buffer.read`,
/// `buffer.constructor`.
pub(crate) fn func_name(resolve: &Resolve, f: &Function) -> String {
    match f.kind {
        FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => f.name.clone(),
        FunctionKind::Method(r)
        | FunctionKind::AsyncMethod(r)
        | FunctionKind::Static(r)
        | FunctionKind::AsyncStatic(r)
        | FunctionKind::Constructor(r) => format!(
            "{}.{}",
            resolve.types[r].name.as_deref().unwrap_or("?"),
            f.item_name()
        ),
    }
}
