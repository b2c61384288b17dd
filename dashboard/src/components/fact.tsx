/** One labelled figure of a facts list (`<dl class="facts">`); `field` names it for tests. */
export function Fact({ label, value, field }: { label: string; value: string | number; field?: string }) {
  return (
    <div data-field={field}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
