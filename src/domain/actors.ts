/** The actor name the engine writes audit records, journal entries and halts under. */
export const ENGINE_ACTOR = 'keyrotor'
