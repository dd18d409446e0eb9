/** The Node release pg-boss runs under here. */
export declare const NODE_FOR_PG_BOSS: string
/** The path of a Node binary that pg-boss supports: this one, or the pinned one, fetched once with `npm pack`. */
export declare const nodeForPgBoss: () => string
