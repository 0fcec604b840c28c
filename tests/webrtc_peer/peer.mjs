// A libdatachannel peer (node-datachannel) for tether's WebRTC interop tests.
//
// Signalling is one JSON object per line: descriptions and candidates in the browser's JSON shapes on
// stdin and stdout, plus a few control messages. The peer binds ICE to 127.0.0.1 only, so every packet
// stays on loopback. It sends `--binary` binary and `--text` text messages made by the same formulas as
// the Python test, checks byte for byte what it receives, reports, and exits when its channel closes
// (or after `--timeout` seconds, so it can never outlive a failed test).
//
//   node peer.mjs --role=offer|answer --binary=2000 --text=10 [--label=interop] [--timeout=90]
import nodeDataChannel from 'node-datachannel';
import readline from 'node:readline';

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value];
  }),
);
const role = args.role ?? 'answer';
const binaryCount = Number(args.binary ?? 2000);
const textCount = Number(args.text ?? 10);
const label = args.label ?? 'interop';
const timeoutSeconds = Number(args.timeout ?? 90);
const HIGH_WATER = 1024 * 1024;

const emit = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

export function binaryMessage(i) {
  const length = 1 + ((i * 7919) % 4096);
  const data = Buffer.alloc(length);
  for (let j = 0; j < length; j += 1) data[j] = (i * 31 + j) & 0xff;
  return data;
}

export function textMessage(i) {
  return `text ${i} \u00e9\u20ac\ud83d\ude00 ${'x'.repeat(i % 50)}`;
}

const exitTimer = setTimeout(() => {
  emit({ type: 'timeout' });
  process.exit(3);
}, timeoutSeconds * 1000);

const pc = new nodeDataChannel.PeerConnection('interop-peer', { iceServers: [], bindAddress: '127.0.0.1' });
pc.onLocalDescription((sdp, type) => emit({ type: 'description', description: { type, sdp } }));
pc.onLocalCandidate((candidate, mid) =>
  emit({ type: 'candidate', candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 } }),
);
pc.onGatheringStateChange((state) => {
  if (state === 'complete') emit({ type: 'end-of-candidates' });
});
pc.onStateChange((state) => emit({ type: 'state', state }));

let channel = null;
let received = { binary: 0, text: 0, mismatches: 0 };

function finish(code) {
  clearTimeout(exitTimer);
  try {
    pc.close();
  } catch {
    // already closed
  }
  nodeDataChannel.cleanup();
  process.exit(code);
}

function setUp(dc) {
  channel = dc;
  let resumeSending = null;
  dc.setBufferedAmountLowThreshold(HIGH_WATER / 4);
  dc.onBufferedAmountLow(() => {
    if (resumeSending) {
      const resume = resumeSending;
      resumeSending = null;
      resume();
    }
  });
  dc.onOpen(async () => {
    emit({ type: 'open', label: dc.getLabel(), id: dc.getId() });
    const textEvery = Math.max(1, Math.floor(binaryCount / Math.max(1, textCount)));
    let texts = 0;
    for (let i = 0; i < binaryCount; i += 1) {
      if (dc.bufferedAmount() > HIGH_WATER) await new Promise((resolve) => (resumeSending = resolve));
      if (!dc.isOpen()) return;
      dc.sendMessageBinary(binaryMessage(i));
      if (i % textEvery === 0 && texts < textCount) dc.sendMessage(textMessage(texts++));
    }
    while (texts < textCount) dc.sendMessage(textMessage(texts++));
    emit({ type: 'sent', binary: binaryCount, text: textCount });
  });
  dc.onMessage((message) => {
    if (typeof message === 'string') {
      if (message !== textMessage(received.text)) received.mismatches += 1;
      received.text += 1;
    } else {
      const data = Buffer.from(message);
      if (!data.equals(binaryMessage(received.binary))) received.mismatches += 1;
      received.binary += 1;
    }
    if (received.binary === binaryCount && received.text === textCount) emit({ type: 'received', ...received });
  });
  dc.onClosed(() => {
    emit({ type: 'closed', ...received });
    finish(0);
  });
}

if (role === 'offer') setUp(pc.createDataChannel(label));
else pc.onDataChannel((dc) => setUp(dc));

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.type === 'description') pc.setRemoteDescription(message.description.sdp, message.description.type);
  else if (message.type === 'candidate') pc.addRemoteCandidate(message.candidate.candidate, message.candidate.sdpMid);
  else if (message.type === 'close' && channel) channel.close();
});
lines.on('close', () => finish(0));
