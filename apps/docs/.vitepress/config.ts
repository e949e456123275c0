import { defineConfig } from 'vitepress';

export default defineConfig({
  title: 'memhp',
  description: 'A reference simulator of Linux memory hotplug and the sparse vmemmap',
});
