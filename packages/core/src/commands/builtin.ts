/**
 * The built-in command handler maps, in registration order (later maps override earlier ones). Each module
 * that models kernel entry points exports one {@link CommandHandlers} map; add yours here with one line.
 */
import { addMemoryHandlers } from '../hotplug/add-memory.js';
import { removeMemoryHandlers } from '../hotplug/remove-memory.js';
import { onlineCommandHandlers } from '../hotplug/online-commands.js';
import { driverCommandHandlers } from '../drivers/index.js';
import { hugetlbCommandHandlers } from '../hugetlb/index.js';
import { deviceCommandHandlers } from '../device/index.js';
import type { CommandHandlers } from './registry.js';

export const builtinCommandHandlers: readonly CommandHandlers[] = [addMemoryHandlers, removeMemoryHandlers, onlineCommandHandlers, driverCommandHandlers, hugetlbCommandHandlers, deviceCommandHandlers];
