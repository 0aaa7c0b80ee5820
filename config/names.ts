/** `frontend` → `Frontend`, `admin-site` → `AdminSite`: construct IDs (and stage names) derived from config keys. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}
