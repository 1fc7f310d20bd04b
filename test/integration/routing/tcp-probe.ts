// A tiny TCP tool run inside pod and node namespaces by the routing tests.
//   server PORT            accept; send the peer's address as seen here, then echo lines
//   whoami ADDR PORT       print the address the server saw for us
//   hold ADDR PORT         send a line every 20 ms on ONE connection until SIGTERM; exit 0 only if every line came back
import { createServer, connect } from 'node:net';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'server') {
  createServer((s) => {
    s.write(`${s.remoteAddress?.replace(/^::ffff:/, '')}\n`);
    s.pipe(s);
    s.on('error', () => {});
  }).listen(Number(a), '::', () => process.stdout.write('listening\n'));
} else if (mode === 'whoami') {
  const s = connect({ host: a, port: Number(b), timeout: 5000 });
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    if (buf.includes('\n')) {
      process.stdout.write(`${buf.split('\n')[0]}\n`);
      s.destroy();
      process.exit(0);
    }
  });
  s.on('timeout', () => {
    process.stderr.write('timeout\n');
    process.exit(2);
  });
  s.on('error', (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
} else if (mode === 'hold') {
  const s = connect({ host: a, port: Number(b) });
  let sent = 0,
    got = '',
    first = true,
    stopping = false;
  s.setNoDelay(true);
  s.on('connect', () => process.stdout.write('connected\n'));
  s.on('data', (d) => {
    got += d;
    if (first && got.includes('\n')) {
      got = got.slice(got.indexOf('\n') + 1);
      first = false;
    }
  });
  const tick = setInterval(() => {
    s.write(`${sent++}\n`);
  }, 20);
  process.on('SIGTERM', () => {
    stopping = true;
    clearInterval(tick);
    setTimeout(() => {
      const lines = got.split('\n').filter(Boolean).length;
      process.stdout.write(`sent ${sent} echoed ${lines}\n`);
      s.destroy();
      process.exit(lines === sent && sent > 0 ? 0 : 3);
    }, 500);
  });
  s.on('error', (e) => {
    process.stderr.write(`connection error: ${e.message}\n`);
    process.exit(1);
  });
  s.on('close', () => {
    if (!stopping) {
      process.stderr.write('connection closed early\n');
      process.exit(4);
    }
  });
}
