/**
 * Terminal colours for every command: picocolors' own choice (off with `NO_COLOR` or `--no-color`,
 * on for a terminal or with `FORCE_COLOR`), except that `FORCE_COLOR=0` (or `false`) turns colour
 * off, as chalk and supports-color read it; picocolors takes any non-empty value as "on".
 */
import picocolors from 'picocolors';

/** The colour functions picocolors offers. */
type Colors = ReturnType<typeof picocolors.createColors>;

const force = process.env.FORCE_COLOR;

/** The colour functions (`pc.red`, `pc.bold`, ...): identity functions when colour is off. */
export const pc: Colors = force === '0' || force === 'false' ? picocolors.createColors(false) : picocolors;
