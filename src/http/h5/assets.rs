//! The signing page's stylesheet and scripts, served from this origin (the page's CSP allows no other
//! and no inline script). For FACE_AND_SMS the script only adds the signature pad and the two
//! dialogs, and every step works as a plain form post. A CA_CERT signer's key lives in the page, so
//! that step needs the script: it loads the vendored PKCS#12 reader and signs through the two JSON
//! steps of `certificate`.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = r#"*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f6f8;color:#222;font-size:16px;line-height:1.5}
.page{max-width:640px;margin:0 auto;padding:12px}
header h1{font-size:20px;margin:8px 0 12px}
section{background:#fff;border-radius:8px;padding:12px 14px;margin:0 0 12px}
h2{font-size:16px;margin:0 0 8px}
ul{list-style:none;padding:0;margin:0}
.parties li{display:flex;gap:8px;justify-content:space-between;padding:4px 0;border-bottom:1px solid #eee}
.parties li.me{font-weight:600}
.documents{list-style:none;padding:0;margin:0}
.documents li{padding:6px 0;border-bottom:1px solid #eee}
.documents li:last-child{border-bottom:0}
.documents p{margin:2px 0}
.documents .name{font-weight:600;overflow-wrap:anywhere}
.documents .place{color:#1a5fd0}
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
input[type=password]{font-size:16px;padding:8px;border:1px solid #ccc;border-radius:6px;flex:1;min-width:0}
label{display:block;color:#555;font-size:14px;margin:6px 0 0}
.error{color:#d4380d}
dl.certificate{display:grid;grid-template-columns:minmax(0,auto) minmax(0,1fr);gap:2px 10px;margin:8px 0 0;font-size:14px}
dl.certificate dt{color:#888}
dl.certificate dd{margin:0;min-width:0;overflow-wrap:anywhere}
.reject{background:none;text-align:center}
figure.seal{margin:8px 0;text-align:center}
figure.seal img{width:140px;height:140px;object-fit:contain}
figure.seal figcaption{color:#888;font-size:13px}
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
      document.getElementById('signature-hint').hidden = true;
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
      var form = document.getElementById('sign-form');
      button.disabled = true;
      if (form.getAttribute('data-certificate')) {
        signWithCertificate(form, pad.toDataURL('image/png'), function () {
          button.disabled = false; dialog.hidden = true;
        });
        return;
      }
      document.getElementById('signature-data').value = pad.toDataURL('image/png');
      form.submit();
    });
  }

  // An organisation applying its seal alone: nothing to draw, only the confirmation.
  var sealSubmit = document.getElementById('seal-submit');
  if (sealSubmit && !pad) {
    var sealDialog = document.getElementById('confirm-dialog');
    sealSubmit.addEventListener('click', function () { sealDialog.hidden = false; });
    document.getElementById('confirm-no').addEventListener('click', function () { sealDialog.hidden = true; });
    document.getElementById('confirm-yes').addEventListener('click', function () {
      document.getElementById('confirm-yes').disabled = true;
      document.getElementById('sign-form').submit();
    });
  }

  // CA_CERT: the signer's PKCS#12 file is opened here (assets/h5/pkcs12.js, loaded on this step
  // only); the key stays in this page. Signing is two posts: the certificates and the drawing
  // give the bytes to sign, the signature over them completes it.
  var opened = null;
  var certificateStep = document.getElementById('step-certificate');
  var certificateMessages = {
    'wrong-password': '证书密码错误，或证书文件已损坏',
    'not-pkcs12': '所选文件不是 PKCS#12 证书文件（.p12 / .pfx）',
    'no-key': '证书文件中没有私钥',
    'several-keys': '证书文件中有多个私钥，请导出仅含本人证书的文件',
    'unsupported-key': '不支持该证书的密钥算法（支持 RSA 与 ECDSA P-256）',
    'no-certificate': '证书文件中缺少与私钥对应的证书',
    'no-webcrypto': '当前浏览器不支持证书签署，请使用较新版本的浏览器并通过 HTTPS 访问'
  };
  function show(id, text) {
    var element = document.getElementById(id);
    if (!element) { return; }
    element.textContent = text || '';
    element.hidden = !text;
  }
  function base64(bytes) {
    var view = new Uint8Array(bytes);
    var text = '';
    for (var i = 0; i < view.length; i++) { text += String.fromCharCode(view[i]); }
    return btoa(text);
  }
  function unbase64(text) {
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }
  function postJson(url, body) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) { return Promise.reject(answer); }
        return answer;
      });
    });
  }
  if (certificateStep && certificateStep.getAttribute('data-mode') === 'pkcs12') {
    var loader = document.createElement('script');
    loader.src = '/h5/assets/pkcs12.js';
    document.body.appendChild(loader);
    document.getElementById('certificate-open').addEventListener('click', function () {
      var input = document.getElementById('certificate-file');
      var password = document.getElementById('certificate-password');
      var file = input.files && input.files[0];
      show('certificate-error', '');
      if (!window.crypto || !window.crypto.subtle) { show('certificate-error', certificateMessages['no-webcrypto']); return; }
      if (!file) { show('certificate-error', '请先选择证书文件'); return; }
      if (!window.EsignPkcs12) { show('certificate-error', '证书组件正在加载，请稍候再试'); return; }
      var button = this;
      button.disabled = true;
      file.arrayBuffer().then(function (bytes) {
        return window.EsignPkcs12.open(bytes, password.value);
      }).then(function (result) {
        opened = result;
        password.value = '';
        show('sign-error', '');
        document.getElementById('certificate-subject').textContent = result.certificate.subject;
        document.getElementById('certificate-issuer').textContent = result.certificate.issuer;
        document.getElementById('certificate-validity').textContent =
          result.certificate.notBefore.slice(0, 10) + ' 至 ' + result.certificate.notAfter.slice(0, 10);
        document.getElementById('certificate-info').hidden = false;
        show('certificate-status', '证书已读取。请核对证书信息，然后在下方手写签名并确认签署。');
        certificateStep.className = 'step done';
      }).catch(function (error) {
        opened = null;
        document.getElementById('certificate-info').hidden = true;
        certificateStep.className = 'step current';
        show('certificate-error', certificateMessages[error && error.code] || '无法读取该证书文件');
      }).then(function () { button.disabled = false; });
    });
  }
  function showDone(answer) {
    var main = document.querySelector('main');
    var section = document.createElement('section');
    section.id = 'done';
    section.className = 'result ok';
    var lines = [
      ['h1', '签署完成'],
      ['p', '《' + (answer.title || '') + '》'],
      ['p', answer.contractSigned ? '所有签署方均已完成签署，协议已生效。' : '您的签署已完成，协议将在其他签署方签署后生效。'],
      ['p', '签署流水号：' + (answer.transactionNo || '')]
    ];
    lines.forEach(function (line, i) {
      var element = document.createElement(line[0]);
      element.textContent = line[1];
      if (i === 3) { element.className = 'detail'; }
      section.appendChild(element);
    });
    while (main.firstChild) { main.removeChild(main.firstChild); }
    main.appendChild(section);
    window.scrollTo(0, 0);
  }
  function signWithCertificate(form, image, failed) {
    show('sign-error', '');
    if (!opened) {
      show('sign-error', '请先在第一步读取您的数字证书');
      failed();
      return;
    }
    var csrf = form.querySelector('input[name=csrf]').value;
    var certificates = opened.certificates.map(base64);
    var attempt = function (left) {
      return postJson(form.getAttribute('data-prepare'), {
        csrf: csrf, certificates: certificates, signature: image
      }).then(function (prepared) {
        return window.EsignPkcs12.sign(opened, unbase64(prepared.signedAttributes)).then(function (signed) {
          return postJson(form.getAttribute('data-complete'), {
            csrf: csrf, preparation: prepared.preparation, certificates: certificates,
            signature: image, signed: base64(signed)
          });
        });
      }).catch(function (error) {
        // Another signer's signature came first: prepare again on the document as it is now.
        if (error && error.reason === 'DOCUMENT_CHANGED' && left > 0) { return attempt(left - 1); }
        return Promise.reject(error);
      });
    };
    attempt(2).then(showDone).catch(function (error) {
      var text = error && error.message ? error.message : '签署未完成，请稍后重试';
      if (error && error.hint) { text += '。' + error.hint; }
      show('sign-error', text);
      failed();
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

/// PKI.js and asn1js bundled (assets/h5/pkcs12/, see its README): opens a PKCS#12 file in the
/// signer's browser. Only the CA_CERT step loads it.
const PKCS12_JS: &str = include_str!("../../../assets/h5/pkcs12.js");

pub(super) async fn pkcs12_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        PKCS12_JS,
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
