// Scan page: reads a holder's code with the phone camera and submits the ordinary form.
// Uses the browser's BarcodeDetector where it exists, else the vendored jsQR decoder
// (loaded only then). Without a camera, or without this script, the clerk types or pastes
// the code content into the same form.
const root = document.getElementById("scanner");
const form = document.getElementById("scan-form");
const input = document.getElementById("qr_content");
const purpose = document.getElementById("purpose");
const startButton = document.getElementById("start-camera");
const stopButton = document.getElementById("stop-camera");
const video = document.getElementById("camera");
const cameraStatus = document.getElementById("camera-status");
const SCAN_INTERVAL_MS = 200;

let stream = null;
let detector = null;
let jsQR = null;
let canvas = null;
let timer = null;

function say(text) {
  cameraStatus.textContent = text;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error("解码组件加载失败"));
    document.head.append(script);
  });
}

async function makeDecoder() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return;
      }
    } catch (error) {
      // fall through to jsQR
    }
  }
  await loadScript(root.dataset.jsqr);
  jsQR = window.jsQR;
  canvas = document.createElement("canvas");
}

async function decodeFrame() {
  if (video.readyState < 2) return null;
  if (detector) {
    const codes = await detector.detect(video);
    return codes.length ? codes[0].rawValue : null;
  }
  const w = video.videoWidth;
  const h = video.videoHeight;
  if (!w || !h) return null;
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, w, h);
  const found = jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
  return found ? found.data : null;
}

function stop() {
  clearTimeout(timer);
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  video.hidden = true;
  stopButton.hidden = true;
  startButton.hidden = false;
}

async function loop() {
  try {
    const text = await decodeFrame();
    if (text) {
      stop();
      input.value = text;
      say("已识别二维码,正在核验……");
      form.requestSubmit();
      return;
    }
  } catch (error) {
    // one bad frame: try the next
  }
  timer = setTimeout(loop, SCAN_INTERVAL_MS);
}

async function start() {
  if (!purpose.reportValidity()) return; // the purpose must be filled in first
  say("正在打开摄像头……");
  try {
    if (!detector && !jsQR) await makeDecoder();
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
  } catch (error) {
    say("无法使用摄像头,请在下方输入或粘贴码内容。");
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  startButton.hidden = true;
  stopButton.hidden = false;
  await video.play();
  say("请将二维码对准取景框");
  loop();
}

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  startButton.hidden = false;
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", () => {
    stop();
    say("");
  });
} else {
  say("此浏览器无法使用摄像头,请输入或粘贴码内容。");
}
