import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'

export interface Rsyslog {
  /** The MSG of each message (keyrotor sends the record's JSON line), one a line. */
  messages(): string[]
  /** `MSGID STRUCTURED-DATA` of each message, as rsyslog parsed it. */
  structuredData(): string[]
  messageFile: string
  stop(): Promise<void>
}

/** A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export function makeTlsFiles(dir: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, 'ca.pem')
  const caKey = join(dir, 'ca.key')
  const cert = join(dir, 'server.pem')
  const key = join(dir, 'server.key')
  const csr = join(dir, 'server.csr')
  const ext = join(dir, 'san.ext')
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  execFileSync(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=keyrotor test CA'],
    { stdio: 'ignore' },
  )
  execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], {
    stdio: 'ignore',
  })
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    { stdio: 'ignore' },
  )
  return { ca, cert, key }
}

/**
 * Debian's rsyslogd as a child process: one imtcp listener on 127.0.0.1:port (TLS with the
 * openssl driver when `tls` is given) writing what it receives to files in `dir`.
 */
export async function startRsyslog(options: {
  dir: string
  port: number
  tls?: { ca: string; cert: string; key: string }
}): Promise<Rsyslog> {
  const { dir, port, tls } = options
  const messageFile = join(dir, 'messages.jsonl')
  const sdFile = join(dir, 'structured-data.log')
  const conf = join(dir, 'rsyslog.conf')
  const global = tls
    ? `global(workDirectory="${dir}" defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="${tls.ca}" defaultNetstreamDriverCertFile="${tls.cert}" defaultNetstreamDriverKeyFile="${tls.key}")`
    : `global(workDirectory="${dir}")`
  const module = tls
    ? 'module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")'
    : 'module(load="imtcp")'
  writeFileSync(
    conf,
    `${global}
${module}
template(name="msg" type="string" string="%msg%\\n")
template(name="sd" type="string" string="%msgid% %structured-data%\\n")
ruleset(name="audit") {
  action(type="omfile" file="${messageFile}" template="msg")
  action(type="omfile" file="${sdFile}" template="sd")
}
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit")
`,
  )
  // Debian puts it in /usr/sbin, which a non-login PATH may lack
  const rsyslogd = existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd'
  const child: ChildProcess = spawn(rsyslogd, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
  const deadline = Date.now() + 15_000
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`rsyslogd did not listen on ${port}: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const lines = (file: string) =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : []
  return {
    messages: () => lines(messageFile),
    structuredData: () => lines(sdFile),
    messageFile,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
