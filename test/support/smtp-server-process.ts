// A real SMTP server in a process of its own (smtp-server, the library Nodemailer's authors
// keep for this), for tests: it accepts every message on the port it is given (argv[2], 0: any
// free one), parses it (mailparser) and sends it to the parent over IPC; it refuses (550)
// recipients whose address begins with "rejected.". Run by smtp.ts.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  // A recipient whose address begins with "rejected." is refused (550), as a real server refuses an unknown mailbox.
  onRcptTo(address, _session, callback) {
    if (!address.address.startsWith('rejected.')) return callback();
    const err = new Error(`<${address.address}>: mailbox unavailable`) as Error & { responseCode: number };
    err.responseCode = 550;
    callback(err);
  },
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((parsed) => {
        process.send!({
          type: 'mail',
          mail: {
            to: session.envelope.rcptTo.map((r) => r.address),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            language: String(parsed.headers.get('content-language') ?? ''),
          },
        });
        callback();
      })
      .catch((err: Error) => callback(err));
  },
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.send!({ type: 'listening', port: (server.server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
