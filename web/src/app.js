/* The dashboard's logic: sign in with a bearer token (kept in sessionStorage only), read the
 * statistics API for the chosen year and as-of date, draw every panel with ECharts, and
 * download each panel's figures as XLSX from the same endpoint with format=xlsx. */
'use strict';

const TOKEN_KEY = 'finreg.token';
const PALETTE = ['#1456b8', '#2e9e6b', '#f5a623', '#d4282d', '#7b5cc4', '#1aa6b7', '#8a98a9'];
const FLAGS = [['first_loan', '首贷'], ['credit', '信用贷款'], ['medium_long_term', '中长期贷款'],
  ['renewal', '续贷（无还本续贷）']];
const COUNTIES = {
  350402: '梅列区', 350403: '三元区', 350404: '三元区', 350405: '沙县区', 350421: '明溪县',
  350423: '清流县', 350424: '宁化县', 350425: '大田县', 350426: '尤溪县', 350427: '沙县',
  350428: '将乐县', 350429: '泰宁县', 350430: '建宁县', 350481: '永安市', other: '其他地区',
};
const METRICS = {
  lending_increase: ['贷款余额增量', 'yuan', '≥'],
  manufacturing_loan_increase: ['制造业贷款余额增量', 'yuan', '≥'],
  small_micro_rate_change_pp: ['普惠小微利率较2019年变化', 'pp', '≤'],
  guarantee_leverage: ['融资担保放大倍数', 'times', '≥'],
  relief_referrals: ['纾困资金推荐企业', 'firms', '≥'],
};
const ALERT_KINDS = { recall: '抽贷', cut: '压贷', cutoff: '断贷' };

const $ = (sel) => document.querySelector(sel);
/* app.js runs before echarts.min.js (both deferred): the data calls start while the browser
 * is still compiling ECharts, and drawing waits for it. */
const chartsReady = new Promise((resolve) => {
  if (document.readyState !== 'loading' && window.echarts) resolve();
  else document.addEventListener('DOMContentLoaded', () => resolve());
});
const ME_KEY = 'finreg.me';
const state = { me: null, year: null, asOf: null, xlsx: {}, charts: {} };

/* ------------------------------------------------------------------ formatting */

/** "1234567.80" -> "1,234,567.80" (exact: works on the string). */
function fmtYuan(s) {
  if (s === null || s === undefined) return '—';
  const [int, dec] = String(s).split('.');
  const neg = int.startsWith('-');
  const digits = neg ? int.slice(1) : int;
  return (neg ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (dec ? '.' + dec : '');
}
const yi = (s) => (s === null || s === undefined ? null : Number(s) / 1e8);
const yiText = (s) => (s === null || s === undefined ? '—' : yi(s).toFixed(2) + ' 亿元');
const pct = (x) => (x === null || x === undefined ? null : Math.round(x * 10000) / 100);
const countyName = (row) => row.group_name || row.name || COUNTIES[row.group] || row.group;
const bankName = (row, code) => row.bank_name || row.group_name || row.name || code;

function today() {
  const d = new Date(Date.now() + 8 * 3600 * 1000); // the registry's day is Asia/Shanghai
  return d.toISOString().slice(0, 10);
}

/* ------------------------------------------------------------------ API */

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code;
  }
}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const resp = await fetch(path, {
    headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
  });
  let body = null;
  try { body = await resp.json(); } catch (_) { body = null; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, body);
    if (resp.status === 401) signOut('令牌已失效（401）：' + err.message + '。请重新登录。');
    throw err;
  }
  return body;
}

/** Adds bank=self for a bank, and the query parameters. */
function url(path, params) {
  const q = new URLSearchParams(params);
  if (state.me && state.me.kind === 'bank') q.set('bank', 'self');
  return path + '?' + q.toString();
}

async function downloadXlsx(panel) {
  const target = state.xlsx[panel];
  if (!target) { toast('该面板暂无可下载的数据'); return; }
  const sep = target.includes('?') ? '&' : '?';
  try {
    const resp = await fetch(target + sep + 'format=xlsx', {
      headers: { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) },
      cache: 'no-store', credentials: 'omit',
    });
    if (!resp.ok) {
      let msg = `HTTP ${resp.status}`;
      try { msg = (await resp.json()).error.message; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    const blob = await resp.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `finreg-${panel}-${state.year}.xlsx`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    toast('导出失败：' + e.message);
  }
}

function toast(text) {
  const t = document.createElement('div');
  t.className = 'toast';
  t.setAttribute('role', 'alert');
  t.textContent = text;
  document.body.appendChild(t);
  setTimeout(() => t.remove(), 5000);
}

/* ------------------------------------------------------------------ sign-in */

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
  state.me = null;
  for (const c of Object.values(state.charts)) c.dispose();
  state.charts = {};
  $('#board').hidden = true;
  $('#filters').hidden = true;
  $('#signin').hidden = false;
  document.body.dataset.state = 'signin';
  const err = $('#signin-error');
  err.hidden = !message;
  err.textContent = message || '';
}

async function signIn() {
  // The tab remembers who the token belongs to, so a reload asks for the figures at once and
  // checks the token alongside; the first sign-in asks first.
  const cached = sessionStorage.getItem(ME_KEY);
  const check = api('/v1/whoami');
  if (cached) {
    state.me = JSON.parse(cached);
    showBoard();
    const [me] = await Promise.all([check.catch((e) => e), refresh()]);
    if (me instanceof Error) { if (me.status !== 401) signOut(`无法登录：${me.message}`); return; }
    if (me.code !== state.me.code || me.kind !== state.me.kind) {
      sessionStorage.setItem(ME_KEY, JSON.stringify(me));
      state.me = me;
      showBoard();
      await refresh();
    }
    return;
  }
  try {
    state.me = await check;
  } catch (e) {
    if (e.status !== 401) signOut(`无法登录（${e.status || '网络错误'}）：${e.message}`);
    else signOut('登录失败：令牌无效、已吊销，或其所属机构已停用（401）。请向管理员重新申请令牌。');
    return;
  }
  sessionStorage.setItem(ME_KEY, JSON.stringify(state.me));
  showBoard();
  await refresh();
}

function showBoard() {
  const kinds = { bank: '银行', guarantor: '担保机构', regulator: '监管机构' };
  $('#who').textContent = `${kinds[state.me.kind] || state.me.kind} · ${state.me.name}（${state.me.code}）`;
  $('#signin').hidden = true;
  $('#filters').hidden = false;
  $('#board').hidden = false;
  const notice = $('#notice');
  notice.hidden = state.me.kind === 'regulator';
  notice.textContent = state.me.kind === 'bank'
    ? `本看板仅显示 ${state.me.name} 自身的数据；全市目标、担保放大倍数与供应链奖励仅监管机构可见。`
    : '本账号只能查看与本机构相关的统计。';
}

/* ------------------------------------------------------------------ panels */

function chart(id, option) {
  const el = document.getElementById(id);
  let c = state.charts[id];
  if (!c) {
    el.textContent = '';
    c = echarts.init(el, null, { renderer: 'svg' });
    state.charts[id] = c;
  }
  c.setOption(Object.assign({
    animation: false,
    color: PALETTE,
    textStyle: { fontFamily: state.font || (state.font = getComputedStyle(document.body).fontFamily) },
    grid: { left: 56, right: 56, top: 48, bottom: 36, containLabel: false },
    tooltip: { trigger: 'axis' },
    legend: { top: 8, textStyle: { fontSize: 12 } },
  }, option), true);
}

function emptyPanel(id, text) {
  if (state.charts[id]) { state.charts[id].dispose(); delete state.charts[id]; }
  const el = document.getElementById(id);
  el.innerHTML = '';
  const d = document.createElement('div');
  d.className = 'empty';
  d.textContent = text;
  el.appendChild(d);
}

/** The message a panel shows when its endpoint answered an error. */
function failure(e, endpoint) {
  if (e.status === 403) return '当前账号无权查看此项统计（仅监管机构）';
  if (e.status === 404 && e.code === 'not_found' && /no such endpoint/.test(e.message)) {
    return `接口 ${endpoint} 尚未在本服务器上线`;
  }
  return `加载失败（${e.status || '网络错误'}）：${e.message}`;
}

function renderTargets(body) {
  const box = $('#targets');
  box.innerHTML = '';
  for (const r of body.rows) {
    const [label, unit, cmp] = METRICS[r.metric] || [r.metric, '', ''];
    const fmt = (v) => {
      if (v === null || v === undefined) return '—';
      if (unit === 'yuan') return fmtYuan(v) + ' 元';
      if (unit === 'pp') return v + ' 个百分点';
      if (unit === 'times') return v + ' 倍';
      return v + ' 户';
    };
    const met = r.met === true ? 'met' : r.met === false ? 'unmet' : 'unknown';
    const width = r.progress === null || r.progress === undefined ? 0
      : Math.max(0, Math.min(1, r.progress)) * 100;
    const div = document.createElement('div');
    div.className = 'target ' + met;
    div.dataset.metric = r.metric;
    div.innerHTML = '<div class="name"></div><div class="bar"><i></i></div>' +
      '<div class="fig" data-figure=""><span class="actual"></span></div>' +
      '<div class="fig goal"></div><div class="state"></div>';
    div.querySelector('.name').textContent = label;
    div.querySelector('.bar i').style.width = width.toFixed(1) + '%';
    div.querySelector('.fig').dataset.figure = r.metric;
    div.querySelector('.actual').textContent = fmt(r.actual);
    div.querySelector('.goal').textContent = `目标 ${cmp} ${fmt(r.target)}`;
    div.querySelector('.state').textContent =
      (met === 'met' ? '✔ 已完成' : met === 'unmet' ? '● 未完成' : '○ 暂无实际值') +
      (r.progress === null || r.progress === undefined ? '' : ` · 进度 ${(r.progress * 100).toFixed(1)}%`);
    box.appendChild(div);
  }
}

function mixOption(rows, names, rotate) {
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v) => v + '%' },
    grid: { left: 48, right: 16, top: 48, bottom: rotate ? 64 : 36 },
    xAxis: { type: 'category', data: names, axisLabel: { rotate: rotate || 0, interval: 0 } },
    yAxis: { type: 'value', name: '金额占比 %', max: 100 },
    series: FLAGS.map(([k, label]) => ({
      name: label, type: 'bar', barMaxWidth: 18,
      data: rows.map((r) => pct(r[k].share_amount)),
    })),
  };
}

function renderMixMonth(body) {
  const rows = body.rows;
  chart('chart-mix-month', {
    grid: { left: 64, right: 64, top: 48, bottom: 30 },
    xAxis: { type: 'category', data: rows.map((r) => r.group) },
    yAxis: [{ type: 'value', name: '发放金额（亿元）' },
      { type: 'value', name: '笔数占比 %', max: 100, splitLine: { show: false } }],
    series: [{ name: '发放金额（亿元）', type: 'bar', barMaxWidth: 28, itemStyle: { color: '#c9d8ef' },
      data: rows.map((r) => +yi(r.amount).toFixed(2)) }]
      .concat(FLAGS.map(([k, label], i) => ({
        name: label + '笔数占比', type: 'line', yAxisIndex: 1, smooth: true, symbolSize: 5,
        itemStyle: { color: PALETTE[i] }, data: rows.map((r) => pct(r[k].share_count)),
      }))),
  });
}

function renderPricing(months) {
  chart('chart-pricing', {
    grid: { left: 48, right: 56, top: 48, bottom: 30 },
    xAxis: { type: 'category', data: months.map((m) => m.month.slice(5) + '月') },
    yAxis: [{ type: 'value', name: '利率 %', scale: true },
      { type: 'value', name: '变化（百分点）', splitLine: { show: false } }],
    series: [
      { name: `${state.year}年`, type: 'line', symbolSize: 6,
        data: months.map((m) => (m.rows[0].count ? Number(m.rows[0].avg_rate) : null)) },
      { name: `${state.year - 1}年同期`, type: 'line', symbolSize: 6, lineStyle: { type: 'dashed' },
        data: months.map((m) => (m.rows[1].count ? Number(m.rows[1].avg_rate) : null)) },
      { name: '变化（百分点）', type: 'bar', yAxisIndex: 1, barMaxWidth: 16, itemStyle: { color: '#d4282d', opacity: 0.55 },
        data: months.map((m) => m.change_pp) },
    ],
  });
}

function renderGrowth(body) {
  const rows = body.rows;
  const names = rows.map((r) => bankName(r, r.bank_code));
  const s = (label, key) => ({ name: label, type: 'bar', barMaxWidth: 22,
    data: rows.map((r) => +yi(r[key]).toFixed(2)) });
  chart('chart-growth', {
    tooltip: { trigger: 'axis', valueFormatter: (v) => v + ' 亿元' },
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value', name: '亿元' },
    series: [s('年初余额', 'outstanding_start'), s('当前余额', 'outstanding_as_of'),
      s('余额增量', 'increase'), s('当年发放', 'issued')],
  });
}

function renderLeverage(body) {
  const rows = body.rows;
  if (!rows.length) { emptyPanel('chart-leverage', '暂无担保机构数据'); return; }
  const target = body.target || (rows[0] && rows[0].target);
  const t = body.total || rows[0];
  chart('chart-leverage', {
    tooltip: { trigger: 'axis', valueFormatter: (v) => v + ' 倍' },
    title: { text: `在保余额 ${yiText(t.outstanding)} · 净资产 ${yiText(t.net_assets)}`,
      left: 'center', top: 8, textStyle: { fontSize: 13, fontWeight: 'normal', color: '#5b6b7f' } },
    legend: { show: false },
    grid: { left: 48, right: 96, top: 48, bottom: 36 },
    xAxis: { type: 'category', data: rows.map((r) => r.name || r.guarantor_code) },
    yAxis: { type: 'value', name: '倍', max: (v) => Math.max(Math.ceil(v.max * 1.3), (target || 0) + 1) },
    series: [{
      name: '放大倍数', type: 'bar', barMaxWidth: 90,
      label: { show: true, position: 'top', formatter: '{c} 倍', fontSize: 14 },
      data: rows.map((r) => ({ value: r.leverage, itemStyle: { color: r.met ? '#2e9e6b' : '#f5a623' } })),
      markLine: target ? { symbol: 'none', lineStyle: { color: '#d4282d', type: 'dashed' },
        label: { formatter: `目标 ${target} 倍`, position: 'end' }, data: [{ yAxis: target }] } : undefined,
    }],
  });
}

function renderReferrals(body) {
  const t = body.total || {};
  const sum = (k) => (t[k] !== undefined ? t[k] : body.rows.reduce((a, r) => a + (r[k] || 0), 0));
  const all = t.referrals !== undefined ? t.referrals : sum('referred') + sum('accepted') + sum('declined') + sum('funded');
  chart('chart-referrals', {
    tooltip: { trigger: 'item', formatter: '{b}：{c} 户' },
    title: {
      text: body.target ? `推荐企业 ${body.referred_firms} / 目标 ${body.target} 户` : `推荐 ${all} 户`,
      subtext: `已放款 ${yiText(body.funded_amount || t.funded_amount)} · 已拒绝 ${sum('declined')} 户`,
      left: 'right', top: 40, textStyle: { fontSize: 14 },
    },
    legend: { top: 8 },
    series: [{
      name: '推荐进度', type: 'funnel', left: '6%', width: '58%', top: 44, bottom: 10, sort: 'none',
      label: { formatter: '{b}\n{c} 户' }, gap: 2,
      data: [{ name: '已推荐', value: all }, { name: '已受理', value: sum('accepted') + sum('funded') },
        { name: '已放款', value: sum('funded') }],
    }],
  });
}

function renderScf(body) {
  const rows = body.rows;
  if (!rows.length) { emptyPanel('chart-scf', '本年度暂无供应链融资'); return; }
  chart('chart-scf', {
    grid: { left: 56, right: 56, top: 48, bottom: 56 },
    xAxis: { type: 'category', data: rows.map((r) => r.core_name),
      axisLabel: { interval: 0, width: 120, overflow: 'break', fontSize: 11 } },
    yAxis: [{ type: 'value', name: '融资（亿元）' }, { type: 'value', name: '奖励（万元）', splitLine: { show: false } }],
    series: [
      { name: '成员融资（亿元）', type: 'bar', barMaxWidth: 36, data: rows.map((r) => +yi(r.financing).toFixed(2)) },
      { name: '奖励（万元）', type: 'bar', yAxisIndex: 1, barMaxWidth: 36,
        data: rows.map((r) => +(Number(r.reward) / 1e4).toFixed(2)) },
      { name: '获融资成员数', type: 'line', yAxisIndex: 1, data: rows.map((r) => r.members_financed) },
    ],
  });
}

function renderScorecard(body) {
  const rows = body.rows.slice().reverse();
  if (!rows.length) { emptyPanel('chart-scorecard', '暂无考评数据'); return; }
  chart('chart-scorecard', {
    tooltip: { trigger: 'axis' },
    grid: { left: 96, right: 48, top: 40, bottom: 30 },
    xAxis: { type: 'value', max: 100, name: '得分' },
    yAxis: { type: 'category', data: rows.map((r) => `${r.rank}. ${bankName(r, r.bank_code)}`) },
    series: [{ name: '综合得分', type: 'bar', barMaxWidth: 22, label: { show: true, position: 'right' },
      data: rows.map((r) => r.score) }],
  });
}

function renderAlerts(body) {
  const rows = body.rows;
  const counts = {};
  for (const r of rows) counts[r.kind] = (counts[r.kind] || 0) + 1;
  chart('chart-alerts', {
    tooltip: { trigger: 'item', formatter: '{b}：{c} 条（{d}%）' },
    title: { text: `${body.total !== undefined ? body.total : rows.length} 条`, left: 'center', top: '40%',
      textStyle: { fontSize: 18 } },
    legend: { bottom: 0, formatter: (n) => `${n} ${counts[Object.keys(ALERT_KINDS).find((k) => ALERT_KINDS[k] === n)] || 0}` },
    series: [{ type: 'pie', radius: ['45%', '68%'], center: ['50%', '46%'], label: { show: false },
      data: Object.keys(ALERT_KINDS).map((k) => ({ name: ALERT_KINDS[k], value: counts[k] || 0 })) }],
  });
  const table = $('#alerts-table');
  table.innerHTML = '<thead><tr><th>类型</th><th>银行</th><th>企业</th><th>统一社会信用代码</th>' +
    '<th>县（市、区）</th><th>期初余额（元）</th><th>当前余额（元）</th><th>日期</th><th>标记</th></tr></thead>';
  const tb = document.createElement('tbody');
  for (const r of rows.slice(0, 200)) {
    const tr = document.createElement('tr');
    const cells = [ALERT_KINDS[r.kind] || r.kind, r.bank_code, r.name, r.uscc,
      COUNTIES[r.county_code] || r.county_code, fmtYuan(r.outstanding_before),
      fmtYuan(r.outstanding_as_of), r.date, (r.flags || []).join('、')];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      if (i === 5 || i === 6) td.className = 'num';
      td.textContent = v === null || v === undefined ? '' : v;
      tr.appendChild(td);
    });
    tb.appendChild(tr);
  }
  table.appendChild(tb);
}

/* ------------------------------------------------------------------ loading */

async function panel(name, chartId, path, params, render, endpoint) {
  const target = url(path, params);
  try {
    const body = await api(target);
    state.xlsx[name] = target;
    await chartsReady;
    render(body);
  } catch (e) {
    delete state.xlsx[name];
    if (e.status === 401) throw e;
    await chartsReady;
    if (chartId === 'targets') {
      $('#targets').innerHTML = '';
      const d = document.createElement('div');
      d.className = 'empty';
      d.textContent = failure(e, endpoint || path);
      $('#targets').appendChild(d);
    } else {
      emptyPanel(chartId, failure(e, endpoint || path));
    }
  }
}

function renderKpis(growth, newLoans, pricing) {
  const t = growth && growth.total;
  $('#kpi-issued').textContent = t ? yiText(t.issued) : '—';
  $('#kpi-increase').textContent = t ? yiText(t.increase) : '—';
  $('#kpi-mfg').textContent = t && t.manufacturing ? yiText(t.manufacturing.increase) : '—';
  $('#kpi-issued-n').textContent = newLoans ? `共 ${newLoans.total.count} 笔` : '';
  const last = pricing && pricing[pricing.length - 1];
  $('#kpi-pricing').textContent = last && last.change_pp !== null && last.change_pp !== undefined
    ? `${last.change_pp > 0 ? '+' : ''}${last.change_pp.toFixed(2)} 个百分点` : '—';
  $('#kpi-pricing-month').textContent = last ? `${last.month}，加权平均利率` : '';
}

async function refresh() {
  document.body.dataset.state = 'loading';
  const year = Number($('#year').value);
  const end = `${year}-12-31` < today() ? `${year}-12-31` : today();
  const asOf = $('#as-of').value || end;
  $('#as-of').value = asOf;
  state.year = year;
  state.asOf = asOf;
  const from = `${year}-01-01`;
  const months = [];
  for (let m = 1; m <= Number(asOf.slice(5, 7)) && asOf.startsWith(String(year)); m++) {
    months.push(`${year}-${String(m).padStart(2, '0')}`);
  }
  const got = {};
  const keep = (k, fn) => (b) => { got[k] = b; fn(b); };
  const loanMix = (by, id, rotate) => (b) => {
    const names = by === 'county' ? b.rows.map(countyName) : b.rows.map((r) => bankName(r, r.group));
    if (!b.rows.length) emptyPanel(id, '所选期间没有新发放贷款');
    else chart(id, mixOption(b.rows, names, rotate));
  };
  const pricingAll = async () => {
    const bodies = await Promise.all(months.map((m) => api(url('/v1/stats/pricing', { month: m }))));
    got.pricing = bodies;
    await chartsReady;
    state.xlsx.pricing = url('/v1/stats/pricing', { month: months[months.length - 1] });
    if (!bodies.length) emptyPanel('chart-pricing', '所选期间没有数据');
    else renderPricing(bodies);
  };
  try {
    await Promise.all([
      panel('targets', 'targets', '/v1/stats/targets', { year }, renderTargets),
      panel('mix-bank', 'chart-mix-bank', '/v1/stats/new-loans', { from, to: asOf, group_by: 'bank' },
        keep('newLoans', loanMix('bank', 'chart-mix-bank', 0))),
      panel('mix-county', 'chart-mix-county', '/v1/stats/new-loans', { from, to: asOf, group_by: 'county' },
        loanMix('county', 'chart-mix-county', 30)),
      panel('mix-month', 'chart-mix-month', '/v1/stats/new-loans', { from, to: asOf, group_by: 'month' },
        (b) => (b.rows.length ? renderMixMonth(b) : emptyPanel('chart-mix-month', '所选期间没有新发放贷款'))),
      pricingAll().catch(async (e) => {
        if (e.status === 401) throw e;
        await chartsReady;
        emptyPanel('chart-pricing', failure(e, '/v1/stats/pricing'));
      }),
      panel('growth', 'chart-growth', '/v1/stats/lending-growth', { year, as_of: asOf }, keep('growth', renderGrowth)),
      panel('leverage', 'chart-leverage', '/v1/stats/guarantee-leverage', { as_of: asOf }, renderLeverage),
      panel('referrals', 'chart-referrals', '/v1/stats/referrals', { as_of: asOf }, renderReferrals),
      panel('scf', 'chart-scf', '/v1/stats/scf-rewards', { year }, renderScf),
      panel('scorecard', 'chart-scorecard', '/v1/stats/scorecard', { year, as_of: asOf }, renderScorecard),
      panel('alerts', 'chart-alerts', '/v1/alerts/withdrawals', { as_of: asOf, window_days: 90 }, renderAlerts),
    ]);
  } catch (e) {
    if (e.status === 401) return; // signOut() already showed why
    throw e;
  }
  renderKpis(got.growth, got.newLoans, got.pricing);
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.state = 'ready';
}

/* ------------------------------------------------------------------ start */

function init() {
  const sel = $('#year');
  const thisYear = Number(today().slice(0, 4));
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get('year')) || thisYear;
  for (let y = thisYear; y >= 2019; y--) {
    const o = document.createElement('option');
    o.value = y;
    o.textContent = y + ' 年';
    sel.appendChild(o);
  }
  sel.value = String(Math.min(Math.max(wanted, 2019), thisYear));
  $('#signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = $('#token').value.trim();
    $('#token').value = '';
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    signIn();
  });
  $('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });
  $('#year').addEventListener('change', () => { $('#as-of').value = ''; refresh(); });
  $('#signout').addEventListener('click', () => signOut(''));
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-xlsx]');
    if (b) downloadXlsx(b.dataset.xlsx);
  });
  window.addEventListener('resize', () => Object.values(state.charts).forEach((c) => c.resize()));
  if (sessionStorage.getItem(TOKEN_KEY)) signIn();
}

init();
