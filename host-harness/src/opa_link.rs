// The OPA flavour's post-link step. Stable Rust can neither export a wasm global with a value
// (a `static` exports its address) nor keep an import the code never calls, yet an OPA host
// reads the ABI version from the immutable globals `opa_wasm_abi_version` and
// `opa_wasm_abi_minor_version`, and `opa build` modules import `env.opa_abort`,
// `env.opa_println` and `env.opa_builtin0..4`. This step adds what is missing, with
// wasmparser/wasm-encoder, and checks the result against the ABI's export list. build.rs
// `include!`s this file; the host library and its tests use it as the `opa_link` module.

/// How every rule module's OPA flavour is compiled, by host-harness/build.rs for the
/// embedded rules and by `prodready build-rule` for rules outside the repository: imported
/// memory, a 48 KiB stack, and `opt-level = "s"` (smaller stack frames keep evaluation within
/// that stack, smaller static data keeps the memory's minimum within the 2 pages OPA hosts
/// give; OPA hosts' call costs dominate this flavour's speed anyway).
pub const OPA_LINK_ARGS: &[&str] = &[
    "-C",
    "link-arg=--import-memory",
    "-C",
    "link-arg=--export-memory",
    "-C",
    "link-arg=-zstack-size=49152",
];

/// The `wasm` profile's opt-level for the OPA flavour (`CARGO_PROFILE_WASM_OPT_LEVEL`).
pub const OPA_OPT_LEVEL: &str = "s";

/// Variables of an outer build that are not for the guests' builds (clippy's wrapper, a
/// host target, the outer target directory and flags): cleared before building them.
pub const GUEST_BUILD_ENV_CLEARED: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
];

/// OPA WebAssembly ABI version written into the globals.
pub const OPA_ABI_VERSION: i32 = 1;
pub const OPA_ABI_MINOR_VERSION: i32 = 3;

/// Every export an OPA ABI 1.3 module has.
pub const OPA_EXPORTS: &[&str] = &[
    "memory",
    "eval",
    "builtins",
    "entrypoints",
    "opa_eval_ctx_new",
    "opa_eval_ctx_set_input",
    "opa_eval_ctx_set_data",
    "opa_eval_ctx_set_entrypoint",
    "opa_eval_ctx_get_result",
    "opa_malloc",
    "opa_free",
    "opa_json_parse",
    "opa_value_parse",
    "opa_json_dump",
    "opa_value_dump",
    "opa_heap_ptr_get",
    "opa_heap_ptr_set",
    "opa_value_add_path",
    "opa_value_remove_path",
    "opa_eval",
    "opa_value_free",
    "opa_heap_blocks_stash",
    "opa_heap_blocks_restore",
    "opa_heap_stash_clear",
    "opa_wasm_abi_version",
    "opa_wasm_abi_minor_version",
];

/// The function imports of an `opa build` module: name, i32 parameter count, i32 results.
pub const OPA_IMPORTS: &[(&str, usize, usize)] = &[
    ("opa_abort", 1, 0),
    ("opa_println", 1, 0),
    ("opa_builtin0", 2, 1),
    ("opa_builtin1", 3, 1),
    ("opa_builtin2", 4, 1),
    ("opa_builtin3", 5, 1),
    ("opa_builtin4", 6, 1),
];

/// Largest minimum the imported memory may ask for: OPA's Go runtime and the PyPI SDKs give
/// 2 pages up front.
pub const OPA_MAX_INITIAL_PAGES: u64 = 2;

struct OpaLinker {
    /// Function imports the module already has (their indices do not move).
    function_imports: u32,
    /// Types the module already has.
    types: u32,
    /// Globals the module already has, imported and defined.
    globals: u32,
    /// Imports to add: name, type index.
    add_imports: Vec<(&'static str, u32)>,
}

impl wasm_encoder::reencode::Reencode for OpaLinker {
    type Error = std::convert::Infallible;

    fn function_index(
        &mut self,
        func: u32,
    ) -> Result<u32, wasm_encoder::reencode::Error<Self::Error>> {
        Ok(if func < self.function_imports {
            func
        } else {
            func + self.add_imports.len() as u32
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_type_section(self, types, section)?;
        for (name, _) in &self.add_imports {
            let (_, params, results) = OPA_IMPORTS
                .iter()
                .find(|(n, _, _)| n == name)
                .copied()
                .unwrap_or((name, 0, 0));
            types.ty().function(
                std::iter::repeat_n(wasm_encoder::ValType::I32, params),
                std::iter::repeat_n(wasm_encoder::ValType::I32, results),
            );
        }
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_import_section(self, imports, section)?;
        for (name, ty) in &self.add_imports {
            imports.import("env", name, wasm_encoder::EntityType::Function(*ty));
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_global_section(self, globals, section)?;
        for value in [OPA_ABI_VERSION, OPA_ABI_MINOR_VERSION] {
            globals.global(
                wasm_encoder::GlobalType {
                    val_type: wasm_encoder::ValType::I32,
                    mutable: false,
                    shared: false,
                },
                &wasm_encoder::ConstExpr::i32_const(value),
            );
        }
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_export_section(self, exports, section)?;
        exports.export(
            "opa_wasm_abi_version",
            wasm_encoder::ExportKind::Global,
            self.globals,
        );
        exports.export(
            "opa_wasm_abi_minor_version",
            wasm_encoder::ExportKind::Global,
            self.globals + 1,
        );
        Ok(())
    }
}

/// What an OPA module declares, as far as the ABI cares.
#[derive(Debug, Default)]
pub struct OpaShape {
    pub exports: Vec<String>,
    /// Function imports from `env`.
    pub env_functions: Vec<String>,
    /// The imported memory's minimum and maximum pages (`None` when memory is not imported).
    pub memory: Option<(u64, Option<u64>)>,
    pub function_imports: u32,
    pub types: u32,
    pub globals: u32,
    pub has_global_section: bool,
    pub has_type_section: bool,
    pub has_import_section: bool,
}

/// Reads the parts of a module the OPA ABI is about.
pub fn opa_shape(wasm: &[u8]) -> anyhow::Result<OpaShape> {
    let mut shape = OpaShape::default();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            wasmparser::Payload::TypeSection(r) => {
                shape.has_type_section = true;
                shape.types = r.count();
            }
            wasmparser::Payload::ImportSection(r) => {
                shape.has_import_section = true;
                for import in r.into_imports() {
                    let import = import?;
                    match import.ty {
                        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => {
                            shape.function_imports += 1;
                            if import.module == "env" {
                                shape.env_functions.push(import.name.to_string());
                            }
                        }
                        wasmparser::TypeRef::Memory(m)
                            if import.module == "env" && import.name == "memory" =>
                        {
                            shape.memory = Some((m.initial, m.maximum));
                        }
                        wasmparser::TypeRef::Global(_) => shape.globals += 1,
                        _ => {}
                    }
                }
            }
            wasmparser::Payload::GlobalSection(r) => {
                shape.has_global_section = true;
                shape.globals += r.count();
            }
            wasmparser::Payload::ExportSection(r) => {
                for export in r {
                    shape.exports.push(export?.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// The post-link step: adds the ABI version globals and the missing `env` imports, then checks
/// the module against the OPA ABI 1.3 shape.
pub fn opa_link(wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wasm_encoder::reencode::Reencode as _;
    let shape = opa_shape(wasm)?;
    if !(shape.has_type_section && shape.has_import_section && shape.has_global_section) {
        anyhow::bail!(
            "an OPA flavour module needs type, import and global sections (it imports env.memory and has a stack pointer)"
        );
    }
    if shape.exports.iter().any(|e| e == "opa_wasm_abi_version") {
        anyhow::bail!("the module already has opa_wasm_abi_version: linked twice?");
    }
    let mut linker = OpaLinker {
        function_imports: shape.function_imports,
        types: shape.types,
        globals: shape.globals,
        add_imports: Vec::new(),
    };
    for (name, _, _) in OPA_IMPORTS {
        if !shape.env_functions.iter().any(|f| f == name) {
            let ty = linker.types + linker.add_imports.len() as u32;
            linker.add_imports.push((name, ty));
        }
    }
    let mut module = wasm_encoder::Module::new();
    linker
        .parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| anyhow::anyhow!("rewriting the module: {e}"))?;
    let linked = module.finish();
    check_opa_shape(&linked)?;
    Ok(linked)
}

/// Checks a module against the OPA ABI 1.3 shape: every export, every `env` import, an
/// imported memory with a small minimum and no maximum.
pub fn check_opa_shape(wasm: &[u8]) -> anyhow::Result<()> {
    wasmparser::Validator::new().validate_all(wasm)?;
    let shape = opa_shape(wasm)?;
    let missing: Vec<&str> = OPA_EXPORTS
        .iter()
        .filter(|e| !shape.exports.iter().any(|x| x == *e))
        .copied()
        .collect();
    if !missing.is_empty() {
        anyhow::bail!("missing OPA exports: {}", missing.join(", "));
    }
    let missing: Vec<&str> = OPA_IMPORTS
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| !shape.env_functions.iter().any(|x| x == n))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!("missing OPA imports: {}", missing.join(", "));
    }
    match shape.memory {
        None => anyhow::bail!("memory is not imported as env.memory"),
        Some((initial, _)) if initial > OPA_MAX_INITIAL_PAGES => anyhow::bail!(
            "the imported memory asks for {initial} pages; OPA hosts give {OPA_MAX_INITIAL_PAGES}"
        ),
        Some((_, Some(max))) => anyhow::bail!("the imported memory has a maximum ({max} pages)"),
        Some(_) => Ok(()),
    }
}
