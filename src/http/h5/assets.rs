//! The signing page's stylesheet and script, served from this origin (the page's CSP allows no other
//! and no inline script). The script only adds the signature pad and the two dialogs; every step
//! works as a plain form post.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = r#"*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f6f8;color:#222;font-size:16px;line-height:1.5}
.page{max-width:640px;margin:0 auto;padding:12px}
header h1{font-size:20px;margin:8px 0 12px}
section{background:#fff;border-radius:8px;padding:12px 14px;margin:0 0 12px}
h2{font-size:16px;margin:0 0 8px}
ul{list-style:none;padding:0;margin:0}
.parties li{display:flex;gap:8px;justify-content:space-between;padding:4px 0;border-bottom:1px solid #eee}
.parties li.me{font-weight:600}
.contract{width:100%;height:45vh;min-height:240px;border:1px solid #ddd;border-radius:4px;background:#fff}
.step{border-left:4px solid #ccc}
.step.current{border-left-color:#1677ff}
.step.done{border-left-color:#52c41a}
.step.done h2::after{content:" ✓";color:#52c41a}
button,.button{display:inline-block;border:0;border-radius:6px;background:#1677ff;color:#fff;padding:10px 16px;font-size:16px;text-decoration:none;margin:4px 0}
button[disabled]{background:#aab4c3}
button.secondary{background:#e8ecf2;color:#222}
button.danger{background:#d4380d}
button.link{background:none;color:#888;text-decoration:underline;padding:4px 0}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
input[type=text],textarea{font-size:16px;padding:8px;border:1px solid #ccc;border-radius:6px;flex:1;min-width:0;width:100%}
textarea{min-height:80px;margin:6px 0}
canvas#signature-pad{width:100%;height:auto;aspect-ratio:5/2;border:1px dashed #999;border-radius:6px;background:#fff;touch-action:none}
.notice{border-left:4px solid #faad14}
.dialog{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;padding:16px}
.dialog[hidden]{display:none}
.dialog .panel{background:#fff;border-radius:8px;padding:16px;max-width:420px;width:100%}
.result{text-align:center;padding:32px 16px}
.result.ok h1{color:#389e0d}
.result.error h1{color:#d4380d}
.result.pending h1{color:#595959}
.detail,.hint{color:#888;font-size:14px}
.hash,.wrap{overflow-wrap:anywhere;word-break:break-all}
.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;margin:0 0 8px}
.parties li>span{min-width:0;overflow-wrap:anywhere}
.signatures{list-style:none;padding:0;margin:0}
.signatures li.signature{padding:8px 0;border-bottom:1px solid #eee}
.signatures .who{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0 0 4px}
.signatures .name{font-weight:600;overflow-wrap:anywhere;min-width:0}
.badge{font-size:12px;color:#555;background:#f0f2f5;border-radius:4px;padding:1px 6px}
.state{font-size:13px;margin-left:auto}
.state.ok{color:#389e0d}
.state.error,dd.error{color:#d4380d}
.signatures dl{display:grid;grid-template-columns:minmax(0,auto) minmax(0,1fr);gap:2px 10px;margin:0;font-size:13px}
.signatures dt{color:#888}
.signatures dd{margin:0;min-width:0;overflow-wrap:anywhere}
input[type=file]{max-width:100%;margin:6px 0}
.reject{background:none;text-align:center}
"#;

const JS: &str = r#"(function () {
  'use strict';
  var pad = document.getElementById('signature-pad');
  if (pad) {
    var ctx = pad.getContext('2d');
    var strokes = [];
    var current = null;
    ctx.lineWidth = 4; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.strokeStyle = '#111';
    function point(e) {
      var r = pad.getBoundingClientRect();
      return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
    }
    function redraw() {
      ctx.clearRect(0, 0, pad.width, pad.height);
      strokes.forEach(function (s) {
        ctx.beginPath();
        ctx.moveTo(s[0][0], s[0][1]);
        if (s.length === 1) { ctx.lineTo(s[0][0] + 0.1, s[0][1] + 0.1); }
        for (var i = 1; i < s.length; i++) { ctx.lineTo(s[i][0], s[i][1]); }
        ctx.stroke();
      });
    }
    pad.addEventListener('pointerdown', function (e) {
      e.preventDefault();
      if (pad.setPointerCapture) { pad.setPointerCapture(e.pointerId); }
      current = [point(e)]; strokes.push(current); redraw();
    });
    pad.addEventListener('pointermove', function (e) {
      if (!current) { return; }
      e.preventDefault(); current.push(point(e)); redraw();
    });
    function end() { current = null; }
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
    pad.addEventListener('pointerleave', end);
    document.getElementById('signature-clear').addEventListener('click', function () {
      strokes = []; current = null; redraw();
    });
    var dialog = document.getElementById('confirm-dialog');
    var hint = document.getElementById('signature-hint');
    document.getElementById('signature-submit').addEventListener('click', function () {
      if (strokes.length === 0) { hint.hidden = false; return; }
      hint.hidden = true; dialog.hidden = false;
    });
    document.getElementById('confirm-no').addEventListener('click', function () { dialog.hidden = true; });
    document.getElementById('confirm-yes').addEventListener('click', function () {
      var button = document.getElementById('confirm-yes');
      button.disabled = true;
      document.getElementById('signature-data').value = pad.toDataURL('image/png');
      document.getElementById('sign-form').submit();
    });
  }
  var send = document.getElementById('sms-send');
  if (send && send.dataset.wait) {
    var left = parseInt(send.dataset.wait, 10);
    var label = send.textContent;
    var tick = function () {
      if (left <= 0) { send.disabled = false; send.textContent = label; return; }
      send.textContent = label + '（' + left + ' 秒）';
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  }
  var open = document.getElementById('reject-open');
  if (open) {
    open.addEventListener('click', function () {
      var form = document.getElementById('reject-form');
      form.hidden = false; open.hidden = true;
      document.getElementById('reject-reason').focus();
    });
  }
})();
"#;

pub(super) async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
}

pub(super) async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
}

/// The verify page's script: posts the file the visitor chooses to `POST /verify/{contractId}` (the
/// input's `data-action`) and shows the page the server answers, whose verdict is about that file.
/// The script decides nothing itself: without it the stored document's verdict still shows.
const VERIFY_JS: &str = r#"(function () {
  'use strict';
  function bind() {
    var input = document.getElementById('file');
    var status = document.getElementById('file-status');
    if (!input || !window.fetch || !window.DOMParser) { return; }
    input.addEventListener('change', function () {
      var file = input.files && input.files[0];
      if (!file) { return; }
      input.disabled = true;
      if (status) { status.textContent = '正在核验…'; }
      fetch(input.getAttribute('data-action'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/pdf' },
        body: file,
        credentials: 'omit'
      }).then(function (response) {
        return response.text();
      }).then(function (html) {
        var answered = new DOMParser().parseFromString(html, 'text/html').querySelector('main');
        var current = document.querySelector('main');
        if (!answered || !current) { throw new Error('no page in the answer'); }
        current.parentNode.replaceChild(document.adoptNode(answered), current);
        window.scrollTo(0, 0);
        bind();
      }).catch(function () {
        input.disabled = false;
        if (status) { status.textContent = '核验失败，请稍后重试'; }
      });
    });
  }
  bind();
})();
"#;

pub(super) async fn verify_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        VERIFY_JS,
    )
}
