import DefaultTheme from 'vitepress/theme';
import type { Theme } from 'vitepress';
import './custom.css';

const theme: Theme = {
  extends: DefaultTheme,
};
export default theme;
