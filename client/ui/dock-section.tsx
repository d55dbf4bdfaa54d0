/** A panel whose body folds away under its title; folded or not is remembered (ui-prefs). */
import type { ReactNode } from 'react';
import { toggleSection, useUiPrefs } from '../state/ui-prefs.js';

export function DockSection({ name, title, children, className, testId, defaultCollapsed = false }: {
  name: string;
  title: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
  defaultCollapsed?: boolean;
}) {
  const saved = useUiPrefs((s) => s.collapsed[name]);
  const collapsed = saved ?? defaultCollapsed;
  const toggle = () => {
    // The first toggle stores the opposite of the default.
    if (saved === undefined && defaultCollapsed) toggleSection(name);
    toggleSection(name);
  };
  return (
    <section className={`panel dock-section${collapsed ? ' collapsed' : ''}${className ? ` ${className}` : ''}`} data-testid={testId} data-collapsed={collapsed}>
      <button type="button" className="section-toggle" aria-expanded={!collapsed} data-testid={testId ? `${testId}-toggle` : undefined} onClick={toggle}>
        <span className="caret">{collapsed ? '▸' : '▾'}</span> {title}
      </button>
      {!collapsed && <div className="section-body">{children}</div>}
    </section>
  );
}
