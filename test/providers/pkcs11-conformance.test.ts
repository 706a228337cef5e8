import pkcs11js from 'pkcs11js'
import { afterAll } from 'vitest'
import { ALGORITHMS } from '../../src/domain/algorithms.js'
import type { ProviderKeyRef } from '../../src/providers/key-provider.js'
import { TOKEN_ALGORITHMS } from '../../src/providers/pkcs11/key-templates.js'
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.js'
import { createSofthsm, SOFTHSM_MODULE, softhsmAvailable } from '../helpers/softhsm.js'
import { runProviderConformance } from './conformance.js'

const TOKEN = { label: 'keyrotor', pin: 'conformance-pin-7', soPin: 'conformance-so-9' }
// the server under test reads the PIN from its environment, as a real one would
const PIN_ENV = 'KEYROTOR_TEST_HSM_PIN'

if (softhsmAvailable()) {
  // the token must exist before the module is first initialized in this process
  const hsm = createSofthsm([TOKEN])
  process.env[PIN_ENV] = TOKEN.pin
  afterAll(() => hsm.dispose())

  runProviderConformance(
    'pkcs11 on SoftHSM2',
    async () => {
      // each subject starts on an empty token: the engine-level cases reuse one key id
      withRawSession((lib, session) => {
        for (const object of findAll(lib, session, [])) lib.C_DestroyObject(session, object)
      })
      const settings = {
        type: 'pkcs11' as const,
        module: SOFTHSM_MODULE,
        tokenLabel: TOKEN.label,
        pinEnv: PIN_ENV,
      }
      const provider = createPkcs11Provider(settings, { env: process.env })
      return {
        provider,
        exportable: false,
        algorithms: ALGORITHMS,
        instanceYaml: (name) =>
          `  ${name}: { type: pkcs11, module: ${SOFTHSM_MODULE}, tokenLabel: ${TOKEN.label}, pinEnv: ${PIN_ENV} }`,
        // an operator at the token's own tools: usage attributes cleared, or the objects deleted
        async tamper(_db, key: ProviderKeyRef, version, change) {
          withRawSession((lib, session) => {
            const objects = findAll(lib, session, [
              { type: pkcs11js.CKA_LABEL, value: `${key.keyId}.v${version}` },
            ])
            for (const object of objects) {
              const cls = lib.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_CLASS }])[0]
                ?.value as Buffer
              if (change === 'lost') lib.C_DestroyObject(session, object)
              else if (Number(cls.readBigUInt64LE(0)) !== pkcs11js.CKO_PUBLIC_KEY) {
                const usage = TOKEN_ALGORITHMS[key.algorithm].usage
                lib.C_SetAttributeValue(
                  session,
                  object,
                  usage.map((type) => ({ type, value: false })),
                )
              }
            }
          })
        },
        close: () => provider.close(),
      }
    },
    { usesStore: false },
  )
}

/** A session of this test's own, beside keyrotor's, on the same library in this process. */
function withRawSession(work: (lib: pkcs11js.PKCS11, session: Buffer) => void): void {
  const lib = new pkcs11js.PKCS11()
  lib.load(SOFTHSM_MODULE)
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK })
  } catch (error) {
    // keyrotor's provider initialized the library already; it stays initialized for it
    if ((error as pkcs11js.Pkcs11Error).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN.label)
  const session = lib.C_OpenSession(slot as Buffer, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION)
  try {
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, TOKEN.pin)
    } catch (error) {
      if ((error as pkcs11js.Pkcs11Error).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error
    }
    work(lib, session)
  } finally {
    lib.C_CloseSession(session)
  }
}

function findAll(lib: pkcs11js.PKCS11, session: Buffer, template: pkcs11js.Template): Buffer[] {
  lib.C_FindObjectsInit(session, template)
  try {
    return lib.C_FindObjects(session, 10_000)
  } finally {
    lib.C_FindObjectsFinal(session)
  }
}
