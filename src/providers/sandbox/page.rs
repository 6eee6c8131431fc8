//! The sandbox's pages: plain server-rendered HTML, Chinese, no external assets.

use super::SandboxTask;

const STYLE: &str = "body{margin:0;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;\
background:#f5f6f8;color:#222}main{max-width:480px;margin:0 auto;padding:20px}\
h1{font-size:20px;margin:8px 0 16px}.card{background:#fff;border-radius:12px;padding:16px;margin-bottom:16px}\
.face{width:160px;height:160px;border-radius:50%;margin:8px auto 16px;border:4px dashed #1890ff;\
display:flex;align-items:center;justify-content:center;color:#1890ff;font-size:14px}\
label{display:block;padding:10px 0;border-bottom:1px solid #eee;font-size:16px}\
input[type=number]{width:100%;font-size:16px;padding:8px;box-sizing:border-box}\
button{width:100%;padding:14px;font-size:17px;color:#fff;background:#1890ff;border:0;border-radius:8px}\
.muted{color:#888;font-size:13px}.tag{display:inline-block;background:#fff3e0;color:#e65100;\
border-radius:4px;padding:2px 6px;font-size:12px}";

pub(super) use crate::documents::html::escape;

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The capture page: the tester chooses what the "provider" decides.
pub(super) fn capture(task_id: &str, task: &SandboxTask) -> String {
    if task.result.is_some() {
        return message("核验已完成", "该任务已有结果，请返回业务页面查看。");
    }
    let body = format!(
        "<h1>人脸核验 <span class=\"tag\">沙箱</span></h1>\
         <div class=\"card\"><div class=\"face\">模拟人脸采集</div>\
         <p>姓名：{name}<br>身份证号：{id}</p>\
         <p class=\"muted\">这是开发测试用的模拟服务商，不会采集或比对人脸。请选择要模拟的核验结果。</p></div>\
         <form method=\"post\" action=\"/capture/{task}\" class=\"card\">\
         <label><input type=\"radio\" name=\"outcome\" value=\"PASS\" checked> 核验通过</label>\
         <label>相似度分数（0-1）<input type=\"number\" name=\"score\" min=\"0\" max=\"1\" step=\"0.0001\" value=\"0.95\"></label>\
         <label><input type=\"radio\" name=\"outcome\" value=\"FACE_MISMATCH\"> 人脸比对不一致（FACE_MISMATCH）</label>\
         <label><input type=\"radio\" name=\"outcome\" value=\"ID_CARD_MISMATCH\"> 身份信息不一致（ID_CARD_MISMATCH）</label>\
         <label><input type=\"radio\" name=\"outcome\" value=\"POOR_QUALITY\"> 图像质量差（POOR_QUALITY）</label>\
         <label><input type=\"checkbox\" name=\"deliver\" value=\"none\"> 不发送回调（模拟回调丢失，仅可主动查询）</label>\
         <p class=\"muted\">应用：{app} · 订单：{order}</p>\
         <button type=\"submit\">提交核验结果</button></form>",
        name = escape(&task.name),
        id = escape(&task.masked_id_card_no),
        task = escape(task_id),
        app = escape(&task.app_id),
        order = escape(&task.order_no),
    );
    document("人脸核验（沙箱）", &body)
}

/// A page with one message.
pub(super) fn message(title: &str, text: &str) -> String {
    document(
        title,
        &format!(
            "<h1>{}</h1><div class=\"card\"><p>{}</p></div>",
            escape(title),
            escape(text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape("<b>\"张三\"&'"),
            "&lt;b&gt;&quot;张三&quot;&amp;&#39;"
        );
    }
}
