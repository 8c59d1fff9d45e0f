// A Preact hook around @tanstack/virtual-core: only the rows in view (plus an overscan) are in the
// DOM, so a queue of thousands of alerts scrolls as smoothly as one of twenty.
import { useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';

export function useVirtualRows(count: number, scroller: () => HTMLElement | null, rowHeight: number) {
  const [, rerender] = useState(0);
  const v = useMemo(
    () =>
      new Virtualizer<HTMLElement, HTMLElement>({
        count,
        getScrollElement: scroller,
        estimateSize: () => rowHeight,
        // Three rows beyond each edge: every row rendered is laid out and painted on each frame of a
        // fast scroll (12 cost ~2 ms more a frame, measured in Chromium's trace: docs/console.md).
        overscan: 3,
        observeElementRect,
        observeElementOffset,
        scrollToFn: elementScroll,
        onChange: () => rerender((n) => n + 1),
      }),
    [],
  );
  v.setOptions({ ...v.options, count });
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => v._willUpdate());
  return v;
}
