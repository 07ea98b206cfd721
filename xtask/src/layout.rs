
/// `target/kiln/out/<name>-<version>[-<flavor>]/` for a recipe.
pub fn output_dir(layout: &Layout, recipe: &crate::recipe::Recipe, flavor: Option<&str>) -> Result<PathBuf> {
    let (flavor, _) = recipe.flavor(flavor)?;
    let id = if flavor == recipe.default_flavor {
        format!("{}-{}", recipe.name, recipe.version)
    } else {
        format!("{}-{}-{flavor}", recipe.name, recipe.version)
    };
    Ok(layout.out_root().join(id))
}
