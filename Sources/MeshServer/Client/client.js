// MeshGate's browser client: one RTCPeerConnection per remote id, as in PROTOCOL.md's call flow.
// No build step and nothing loaded from elsewhere: this file is served as it is.
'use strict';

const params = new URLSearchParams(location.search);
// "/" is the default room, "/room/NAME" room NAME, "/hub/NAME" hub room NAME: the page's path
// is the room's WebSocket path.
const roomPath = location.pathname.replace(/\/+$/, '') || '/';
// In a hub room the one peer is the hub, which sends everyone's picture in one: shown large.
const isHub = roomPath.startsWith('/hub/');
const token = params.get('token');
const socketURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + roomPath +
  (token ? '?token=' + encodeURIComponent(token) : '');
const myId = params.get('id') || 'browser-' + Math.random().toString(36).slice(2, 8);
const reportURL = params.get('report');
const iceServers = params.getAll('ice').map(parseIceServer);
const [wantedWidth, wantedHeight] = (params.get('size') || '640x480').split('x').map(Number);
const preferredCodec = (params.get('codec') || '').toLowerCase();   // 'vp8', 'h264', 'vp9', 'av1'; '' lets the browser choose

const $ = (id) => document.getElementById(id);
const peers = new Map();      // remote id -> Peer
let username = params.get('name') || localStorage.getItem('meshgate.name') || '';
let socket = null;
let joined = false;           // the user wants to be in the call (survives reconnects)
let registered = false;       // the server has listed us since the socket opened
let retryDelay = 1000;
let localStream = new MediaStream();
let lastList = [];
let joinSentAt = null;        // performance.now() at our last new_user
const problems = [];
const chatLog = [];           // {from, text}, the latest 200: what the chat box shows

// "stun:host:port" or "turn:user:password@host:port" (also turns:).
function parseIceServer(text) {
  const match = /^(turns?):([^:@]*):([^@]*)@(.+)$/.exec(text);
  return match ? { urls: match[1] + ':' + match[4], username: decodeURIComponent(match[2]), credential: decodeURIComponent(match[3]) }
               : { urls: text };
}

function showStatus(text, problem = false) {
  $('status').textContent = text;
  $('status').classList.toggle('problem', problem);
  if (problem) {
    problems.push(text);
    if (problems.length > 20) problems.shift();
    console.warn(text);
  }
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

// MARK: - Local media

// Asks for camera and microphone, then for whichever of them exists: a kiosk without
// devices still joins, and receives.
async function openLocalMedia() {
  if (!navigator.mediaDevices) {
    // Browsers give pages camera and microphone only on https:// and on localhost.
    showStatus('camera and microphone need https:// (or localhost): you can watch and listen only', true);
    showToggle('camera', false);
    showToggle('mic', false);
    return;
  }
  const wanted = { video: params.get('camera') !== '0', audio: params.get('mic') !== '0' };
  const attempts = [wanted, { video: wanted.video, audio: false }, { video: false, audio: wanted.audio }]
    .filter((c) => c.video || c.audio);
  for (const constraints of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: constraints.video && { width: { ideal: wantedWidth || 640 }, height: { ideal: wantedHeight || 480 } },
        audio: constraints.audio,
      });
      localStream = stream;
      break;
    } catch (error) {
      showStatus('no ' + Object.keys(constraints).filter((k) => constraints[k]).join(' and ') + ': ' + error.message, true);
    }
  }
  $('preview').srcObject = localStream;
  showToggle('camera', localStream.getVideoTracks().length > 0);
  showToggle('mic', localStream.getAudioTracks().length > 0);
}

// ?codec=: that codec first in what this browser offers or answers, the others after it.
function preferCodec(transceiver) {
  if (!preferredCodec || !transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
  const codecs = RTCRtpReceiver.getCapabilities('video').codecs;
  const first = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/' + preferredCodec);
  if (first.length === 0) return showStatus('this browser has no ' + preferredCodec + '; it chooses another codec', true);
  transceiver.setCodecPreferences([...first, ...codecs.filter((c) => !first.includes(c))]);
}

function localTrack(kind) {
  return localStream.getTracks().find((t) => t.kind === kind) || null;
}

function showToggle(kind, on) {
  const button = $(kind);
  button.setAttribute('aria-pressed', String(on));
  button.textContent = (kind === 'mic' ? 'Microphone ' : 'Camera ') + (on ? 'on' : 'off');
}

// Camera off stops the device (its light goes out); on opens it again. Either way every peer
// connection keeps its transceivers, so nothing is renegotiated.
async function toggle(kind) {
  const mediaKind = kind === 'mic' ? 'audio' : 'video';
  const current = localTrack(mediaKind);
  let track = null;
  if (current) {
    current.stop();
    localStream.removeTrack(current);
  } else {
    try {
      if (!navigator.mediaDevices) throw new Error('this page is not on https:// or localhost');
      const stream = await navigator.mediaDevices.getUserMedia({ [mediaKind]: true });
      track = stream.getTracks()[0];
      localStream.addTrack(track);
    } catch (error) {
      showStatus('cannot open the ' + (kind === 'mic' ? 'microphone' : 'camera') + ': ' + error.message, true);
    }
  }
  for (const peer of peers.values()) peer.sender(mediaKind)?.replaceTrack(track);
  $('preview').srcObject = localStream;
  showToggle(kind, track !== null);
}

// MARK: - Peers

class Peer {
  constructor(id, name) {
    this.id = id;
    this.name = name || id;
    this.role = null;            // 'offer' or 'answer' once negotiation starts
    this.pending = [];           // candidates that came before the remote description
    this.queue = Promise.resolve();
    this.pc = new RTCPeerConnection({ iceServers });
    this.stream = new MediaStream();
    this.pc.onicecandidate = (event) => {
      if (event.candidate) send({ id: myId, targetId: this.id, username, type: 'new_candidate', ice: event.candidate });
    };
    // One stream per peer whatever the offer's msid lines say: audio and video play together.
    this.pc.ontrack = (event) => {
      this.stream.addTrack(event.track);
      if (!this.video.srcObject) {
        this.video.srcObject = this.stream;
        play(this.video);
        this.video.requestVideoFrameCallback?.(() => {
          // The wait a person sees on joining: from our new_user to this peer's first frame on screen.
          if (this.role === 'offer' && joinSentAt !== null) this.firstFrameMs = Math.round(performance.now() - joinSentAt);
        });
      }
    };
    this.chat = null;
    // The offerer opens the connection's chat channel; the answerer takes it. Nothing else is kept.
    this.pc.ondatachannel = (event) => {
      if (event.channel.label === 'chat' && !this.chat) this.adopt(event.channel);
      else event.channel.close();
    };
    this.pc.onconnectionstatechange = () => {
      this.showLabel();
      if (this.pc.connectionState === 'failed') showStatus(this.name + ': connection failed', true);
    };
    this.tile = document.createElement('figure');
    this.tile.className = 'tile';
    this.tile.dataset.peer = id;
    this.video = document.createElement('video');
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.label = document.createElement('figcaption');
    this.tile.append(this.video, this.label);
    $('grid').append(this.tile);
    this.showLabel();
  }

  adopt(channel) {
    this.chat = channel;
    channel.onmessage = (event) => {
      if (typeof event.data === 'string' && event.data.length <= 16384) showChat(this.name, event.data);
    };
  }

  sender(kind) {
    return this.pc.getTransceivers().find((t) => t.receiver.track.kind === kind)?.sender;
  }

  showLabel() {
    this.tile.dataset.state = this.pc.connectionState;
    this.label.textContent = this.name + ' · ' + this.pc.connectionState;
  }

  // Signalling for one peer runs in order: a candidate must not overtake its description.
  run(step) {
    this.queue = this.queue.then(step).catch((error) => showStatus(this.name + ': ' + error.message, true));
  }

  // Both kinds always, sending where we have the track: a browser without devices still
  // receives, and a toggle later is a replaceTrack, never a renegotiation.
  offer() {
    this.role = 'offer';
    if (!isHub) this.adopt(this.pc.createDataChannel('chat'));
    for (const kind of ['audio', 'video']) {
      const transceiver = this.pc.addTransceiver(localTrack(kind) || kind, { direction: 'sendrecv', streams: [localStream] });
      if (kind === 'video') preferCodec(transceiver);
    }
    this.run(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      send({ id: myId, targetId: this.id, username, type: 'send_offer', sdp: this.pc.localDescription });
    });
  }

  answer(sdp) {
    this.role = 'answer';
    this.run(async () => {
      await this.pc.setRemoteDescription(sdp);
      await this.addPending();
      // The offer made the transceivers; ours would not be matched to its m-lines.
      for (const transceiver of this.pc.getTransceivers()) {
        transceiver.direction = 'sendrecv';
        if (transceiver.receiver.track.kind === 'video') preferCodec(transceiver);
        const track = localTrack(transceiver.receiver.track.kind);
        if (track) {
          await transceiver.sender.replaceTrack(track);
          transceiver.sender.setStreams?.(localStream);
        }
      }
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      send({ id: myId, targetId: this.id, username, type: 'send_aswer', sdp: this.pc.localDescription });
    });
  }

  accept(sdp) {
    this.run(async () => {
      if (this.pc.signalingState !== 'have-local-offer') return;
      await this.pc.setRemoteDescription(sdp);
      await this.addPending();
    });
  }

  candidate(ice) {
    this.run(async () => {
      if (this.pc.remoteDescription) await this.pc.addIceCandidate(ice);
      else this.pending.push(ice);
    });
  }

  async addPending() {
    for (const ice of this.pending.splice(0)) await this.pc.addIceCandidate(ice);
  }

  get negotiated() {
    return this.pc.signalingState !== 'stable' || this.pc.remoteDescription !== null;
  }

  get connected() {
    return ['connected', 'connecting'].includes(this.pc.connectionState);
  }

  close() {
    this.chat?.close();
    this.pc.close();
    this.tile.remove();
    peers.delete(this.id);
  }
}

function peer(id, name) {
  let existing = peers.get(id);
  if (!existing) {
    existing = new Peer(id, name);
    peers.set(id, existing);
  } else if (name && name !== existing.name) {
    existing.name = name;
    existing.showLabel();
  }
  return existing;
}

// MARK: - Chat

// Text only, as textContent: a message is never markup.
function showChat(from, text) {
  chatLog.push({ from, text });
  if (chatLog.length > 200) chatLog.shift();
  const item = document.createElement('li');
  const name = document.createElement('b');
  name.textContent = from + ': ';
  item.append(name, text);
  $('messages').append(item);
  while ($('messages').children.length > 200) $('messages').firstElementChild.remove();
  item.scrollIntoView({ block: 'nearest' });
}

// Says `text` on every open chat channel; returns how many peers it went to.
function say(text) {
  text = text.trim();
  if (!text) return 0;
  let told = 0;
  for (const p of peers.values()) {
    if (p.chat?.readyState === 'open') { p.chat.send(text); told++; }
  }
  showChat('You', told ? text : text + ' (nobody to hear it yet)');
  return told;
}

// Autoplay with sound needs a user gesture; a kiosk that joined by URL plays muted until a click.
function play(video) {
  video.play().catch(() => {
    video.muted = true;
    video.play().catch(() => {});
    $('unmute').hidden = false;
  });
}

// MARK: - Signalling

function handle(message) {
  switch (message.type) {
    case 'connection_list': {
      const list = message.list || {};
      lastList = Object.keys(list);
      const mine = message.newUserId === myId;
      if (mine) {
        registered = true;
        retryDelay = 1000;
        showStatus('in the call as ' + myId);
      }
      for (const [id, user] of Object.entries(list)) {
        if (id === myId) continue;
        // The newcomer offers to everyone it is not connected to; the others wait for its offer.
        if (mine && !(peers.get(id)?.connected)) {
          peers.get(id)?.close();
          peer(id, user.username).offer();
        } else {
          peer(id, user.username);
        }
      }
      // After a reconnect, peers still connected but not yet back on the server keep their media.
      if (mine) for (const p of [...peers.values()]) if (!list[p.id] && !p.connected) p.close();
      break;
    }
    case 'rest_connection_list': {
      const list = message.list || {};
      lastList = Object.keys(list);
      for (const p of [...peers.values()]) if (!list[p.id]) p.close();
      break;
    }
    case 'close_connection':
      if (message.id && message.id !== myId) peers.get(message.id)?.close();
      break;
    case 'send_offer':
      if (message.targetId !== myId || !message.id || !message.sdp) return;
      // An offer on a connection that has negotiated before means the peer started over.
      if (peers.get(message.id)?.negotiated) peers.get(message.id).close();
      peer(message.id, message.username).answer(message.sdp);
      break;
    case 'send_aswer':
      if (message.targetId === myId && message.id && message.sdp) peers.get(message.id)?.accept(message.sdp);
      break;
    case 'new_candidate':
      // The server lists a peer before it can send, so a candidate from an unknown id is stale.
      if (message.targetId === myId && message.id && message.ice?.candidate) peers.get(message.id)?.candidate(message.ice);
      break;
    case 'error':
      showStatus('server: ' + message.message, true);
      if (message.code === 'duplicate_id' && !registered) {
        showStatus('the id ' + myId + ' is already in this call; open the page with another ?id=', true);
      }
      break;
  }
}

function connect() {
  showStatus('connecting to ' + socketURL);
  // Events of a socket this page has given up (left, or replaced) must not touch the current one.
  const ws = new WebSocket(socketURL);
  socket = ws;
  ws.onopen = () => {
    joinSentAt = performance.now();
    send({ type: 'new_user', id: myId, username });
  };
  ws.onmessage = (event) => {
    if (socket !== ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return showStatus('ignored a message that is not JSON', true);
    }
    handle(message);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    registered = false;
    if (!joined) return;
    if (event.code === 1008) {
      // Refused (a wrong or missing token): trying again would be refused again.
      return showStatus('refused by the server (' + (event.reason || 'policy') + '): check the URL and reload', true);
    }
    // Peer connections carry on without the server; only signalling waits for it.
    showStatus('signalling lost (' + (event.reason || event.code) + '); reconnecting in ' + retryDelay / 1000 + ' s', true);
    setTimeout(() => { if (joined && !socket) connect(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

async function join() {
  username = $('name').value.trim() || myId;
  localStorage.setItem('meshgate.name', username);
  $('join').hidden = true;
  $('controls').hidden = false;
  $('self').querySelector('figcaption').textContent = username + ' (you)';
  $('chat').hidden = isHub;
  joined = true;
  await openLocalMedia();
  connect();
}

function leave() {
  joined = false;
  registered = false;
  send({ type: 'close_connection', id: myId });
  const ws = socket;
  socket = null;
  ws?.close(1000, 'left');
  for (const p of [...peers.values()]) p.close();
  for (const track of localStream.getTracks()) track.stop();
  localStream = new MediaStream();
  $('preview').srcObject = null;
  $('controls').hidden = true;
  $('chat').hidden = true;
  $('join').hidden = false;
  showStatus('left the call');
}

// MARK: - What the page sees, for people (window.meshgate) and monitors (?report=URL)

async function state() {
  const result = {
    id: myId, name: username, room: roomPath, joined, registered,
    socket: socket ? ['connecting', 'open', 'closing', 'closed'][socket.readyState] : 'closed',
    list: lastList,
    chat: [...chatLog],
    local: Object.fromEntries(localStream.getTracks().map((t) => [t.kind, t.getSettings()])),
    problems: [...problems],
    peers: {},
  };
  for (const p of peers.values()) {
    const entry = {
      name: p.name, role: p.role, connectionState: p.pc.connectionState, iceConnectionState: p.pc.iceConnectionState,
      firstFrameMs: p.firstFrameMs ?? null,
      tracks: p.pc.getReceivers().filter((r) => r.track.readyState === 'live').map((r) => r.track.kind),
      received: {}, sent: {},
      localDescription: p.pc.localDescription?.sdp ?? null, remoteDescription: p.pc.remoteDescription?.sdp ?? null,
    };
    let stats = new Map();
    try {
      stats = await settledWithin(2000, p.pc.getStats());
    } catch (error) {
      entry.statsError = error.message;
    }
    for (const s of stats.values()) {
      // The browser's estimate of what it may send this peer (Firefox gives none).
      if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate !== undefined) {
        entry.sendEstimateKbps = Math.round(s.availableOutgoingBitrate / 1000);
      }
      if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') continue;
      const codec = stats.get(s.codecId);
      const summary = { codec: codec?.mimeType ?? null, payloadType: codec?.payloadType ?? null, packets: s.packetsReceived ?? s.packetsSent ?? 0 };
      if (s.kind === 'video' && s.type === 'inbound-rtp') Object.assign(summary, { framesDecoded: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0 });
      if (s.kind === 'video' && s.type === 'outbound-rtp') Object.assign(summary, { framesEncoded: s.framesEncoded ?? 0, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0 });
      (s.type === 'inbound-rtp' ? entry.received : entry.sent)[s.kind] = summary;
    }
    result.peers[p.id] = entry;
  }
  return result;
}

// A getStats or a report that never settles must not stop every later report (a Firefox
// page's reports once stopped a few seconds into a call): each gets this long.
function settledWithin(ms, promise) {
  let timer;
  const expired = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function report() {
  try {
    // text/plain and no-cors: a simple request, so any monitor can take it without CORS headers.
    const body = JSON.stringify(await state());
    await fetch(reportURL, { method: 'POST', mode: 'no-cors', body, signal: AbortSignal.timeout(5000) });
  } catch (error) {
    console.warn('report failed: ' + error.message);
  }
  setTimeout(report, 1000);
}

window.meshgate = { state, join, leave, say, peers };

$('room').textContent = roomPath === '/' ? '' : (isHub ? 'hub room ' : 'room ') + decodeURIComponent(roomPath.replace(/^\/(room|hub)\//, ''));
document.body.classList.toggle('hub', isHub);
$('hubnote').hidden = !isHub;
$('name').value = username;
$('join').addEventListener('submit', (event) => { event.preventDefault(); join(); });
$('leave').addEventListener('click', leave);
$('say').addEventListener('submit', (event) => {
  event.preventDefault();
  say($('saytext').value);
  $('saytext').value = '';
});
$('mic').addEventListener('click', () => toggle('mic'));
$('camera').addEventListener('click', () => toggle('camera'));
$('unmute').addEventListener('click', () => {
  for (const video of document.querySelectorAll('.tile:not(#self) video')) { video.muted = false; video.play(); }
  $('unmute').hidden = true;
});
window.addEventListener('pagehide', () => { if (joined) send({ type: 'close_connection', id: myId }); });
if (reportURL) report();
if (params.get('autojoin') === '1') join();
