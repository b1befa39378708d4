"""The page's inline style and script: no library, font or file from anywhere but the page's own folder."""

STYLE = """*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:14px 18px;color:#222;font-size:13px}
h1{font-size:1.35em;margin:0 0 2px}h3{font-size:13px;margin:0 0 4px}h4{font-size:12px;margin:8px 0 4px;color:#555}
p.sub{margin:0 0 8px;color:#555;font-size:12px}p.sub code{font-size:11px}
small{display:block;color:#666;font-size:11px;line-height:1.25}
table{border-collapse:collapse}
th,td{border-bottom:1px solid #e2e2e2;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.label{display:inline-block;background:#1f4e79;color:#fff;border-radius:3px;padding:0 5px;font-size:11px;
font-weight:600}
.bad,.fail{color:#b0261b}.none{color:#999}
table.summary{width:100%;margin-bottom:10px}table.summary td{font-size:12.5px}
table.summary th[title]{cursor:help;text-decoration:underline dotted #999}
.row{display:flex;flex-wrap:wrap;gap:12px 14px;align-items:flex-start;margin-bottom:12px}
table.groups td,table.groups th{padding:2px 6px;font-size:12px}
figure.scatter{margin:0}figure.scatter svg{display:block;border:1px solid #eee;background:#fff}
figure.scatter figcaption{font-size:11px;color:#555}
svg text{font-size:10px;fill:#555}svg circle{fill:#2f6eb5;fill-opacity:.45;stroke:#17406e;stroke-width:.5}
svg a:hover circle{fill:#e8590c;fill-opacity:1}
.controls{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center;padding:6px 8px;background:#f7f7f2;
border:1px solid #e4e4da;position:sticky;top:0;z-index:2}
.controls label{white-space:nowrap}.controls select,.controls button{font-size:12px}
#count{color:#555;margin-left:auto}
table.items{table-layout:fixed;width:100%}
table.items th[data-key]{cursor:pointer}table.items th[data-key]:hover{background:#e6e6e6}
table.items th.sorted::after{content:attr(data-dir);color:#1f4e79;margin-left:3px}
table.items tr.groups th{text-align:left;background:#eaeef3;white-space:normal;overflow:hidden}
table.items tr.groups small{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.items td{overflow:hidden;overflow-wrap:anywhere}
table.items tr.main{cursor:pointer}table.items tr.main:hover td{background:#f6f9fc}
tbody.item.hit tr.main td{background:#fff4d6}
.first{border-left:2px solid #c9d3de}
td.id{font-family:ui-monospace,monospace;font-size:12px}
.caret{display:inline-block;width:1em;color:#888;transition:transform .1s}
tbody.open .caret{transform:rotate(90deg)}
img.thumb{width:80px;height:80px;display:block;cursor:zoom-in;border:1px solid #ccc;background:#eee}
td.pred b{font-size:14px}td.pred .reason{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
svg.levels{display:block;margin-top:2px}svg.levels rect{fill:#2f6eb5}
.worse{color:#b0261b}.better{color:#1e7b34}
.expl{display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical;overflow:hidden;line-height:1.35}
tbody:not(.open) tr.detail{display:none}
tr.detail>td{background:#fbfbfb;padding:8px 10px 12px}
.details{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:10px 18px}
.details .run{min-width:0}
p.explanation{margin:0 0 6px;line-height:1.4;white-space:pre-wrap;max-width:900px}
p.facts{margin:2px 0;color:#666;font-size:11.5px}
pre{white-space:pre-wrap;background:#f1f1f1;padding:6px;margin:4px 0;max-height:16em;overflow:auto;font-size:11.5px}
.examples{display:flex;flex-wrap:wrap;gap:8px}
.examples figure{margin:0;width:84px;font-size:10.5px;color:#444;line-height:1.25}
.examples figcaption{overflow-wrap:anywhere}
.examples img{width:72px;height:72px;display:block;border:1px solid #ccc;background:#eee}
#zoom{display:none;position:fixed;inset:0;background:rgba(0,0,0,.8);align-items:center;justify-content:center;
cursor:zoom-out;z-index:5}
#zoom figure{margin:0;text-align:center;color:#eee}
#zoom img{height:min(88vh,1024px);max-width:94vw;object-fit:contain;image-rendering:pixelated;background:#000}
#zoom figcaption{font-size:13px;margin-top:4px}"""

# Sorting and filtering move whole <tbody> items; a #anchor (a scatter point) opens and shows its item.
SCRIPT = """(() => {
const table = document.getElementById('items'), items = Array.from(table.tBodies);
const $ = id => document.getElementById(id);
const sortBy = $('sort'), dir = $('dir'), region = $('region'), band = $('band'), failed = $('failed');
let descending = true;
function sort() {
  const key = sortBy.value, text = key === 'id';
  const value = item => { const v = item.dataset[key]; return v === undefined || v === '' ? null : v; };
  items.sort((a, b) => { const x = value(a), y = value(b);
    if (x === null || y === null) return (x === null) - (y === null);
    const d = text ? x.localeCompare(y) : parseFloat(x) - parseFloat(y);
    return descending ? -d : d; });
  items.forEach(item => table.appendChild(item));
  dir.textContent = descending ? 'largest first' : 'smallest first';
  table.querySelectorAll('th[data-key]').forEach(th => {
    th.classList.toggle('sorted', th.dataset.key === key); th.dataset.dir = descending ? '▼' : '▲'; });
}
function filter() {
  let shown = 0;
  items.forEach(item => {
    const keep = (!region || !region.value || item.dataset.region === region.value) &&
      (!band.value || item.dataset.band === band.value) && (!failed.checked || item.dataset.failed === '1');
    item.hidden = !keep; shown += keep; });
  $('count').textContent = shown + ' of ' + items.length + ' items shown';
}
sortBy.addEventListener('change', () => { descending = sortBy.value !== 'id'; sort(); });
dir.addEventListener('click', () => { descending = !descending; sort(); });
table.querySelectorAll('th[data-key]').forEach(th => th.addEventListener('click', () => {
  if (sortBy.value === th.dataset.key) descending = !descending;
  else { sortBy.value = th.dataset.key; descending = th.dataset.key !== 'id'; }
  sort(); }));
[region, band, failed].forEach(control => control && control.addEventListener('change', filter));
function open(item, opened) {  // a detail row enters the page the first time its item opens
  const template = item.querySelector('template');
  if (template) { item.appendChild(template.content.cloneNode(true)); template.remove(); }
  item.classList.toggle('open', opened);
}
// Row thumbnails load as their rows come near the window: headless Chromium fetched all 300 of a page at once
// with loading="lazy", which took most of the page's load time (benchmarks/view_bench.py).
const near = new IntersectionObserver(entries => entries.forEach(entry => {
  if (entry.isIntersecting) { entry.target.src = entry.target.dataset.src; near.unobserve(entry.target); }
}), {rootMargin: '1000px 0px'});
table.querySelectorAll('img[data-src]').forEach(img => near.observe(img));
const zoom = $('zoom');
table.addEventListener('click', event => {
  const img = event.target.closest('img.thumb');
  if (img) {
    zoom.querySelector('img').src = img.dataset.full || img.src;
    zoom.querySelector('figcaption').textContent = img.alt; zoom.style.display = 'flex'; return; }
  const row = event.target.closest('tr.main');
  if (row) open(row.parentElement, !row.parentElement.classList.contains('open'));
});
zoom.addEventListener('click', () => { zoom.style.display = 'none'; });
document.addEventListener('keydown', e => { if (e.key === 'Escape') zoom.style.display = 'none'; });
function show() {
  const item = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (!item || item.tagName !== 'TBODY') return;
  items.forEach(other => other.classList.remove('hit'));
  item.hidden = false; open(item, true); item.classList.add('hit'); item.scrollIntoView({block: 'center'});
}
window.addEventListener('hashchange', show);
sort(); filter(); show();
})();"""
